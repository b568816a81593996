#!/usr/bin/python3
"""Writes the seed corpora fuzz/corpus/<target>/ (committed; rerun only to change them).

Every seed is made here, from nothing: tiny images drawn with PIL, ONNX models built with
onnx.helper, ZIPs with zipfile, tokens signed with the fuzz target's fixed secret, and text.
Usage: fuzz/make_seeds.py            (Debian's python3: PIL, numpy, onnx; overwrites the seed files it names)
"""
import base64
import hashlib
import hmac
import io
import json
import os
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
SECRET = b"fuzz-secret-0123456789abcdef"  # fuzz/jwt.cpp's k_secret


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def image_seeds():
    def save(im, fmt, **kw):
        b = io.BytesIO()
        im.save(b, fmt, **kw)
        return b.getvalue()

    rgb = Image.new("RGB", (8, 6))
    for x in range(8):
        for y in range(6):
            rgb.putpixel((x, y), (x * 30, y * 40, 128))
    put("image_decode", "rgb.png", save(rgb, "PNG"))
    put("image_decode", "rgb.jpg", save(rgb, "JPEG", quality=80))
    put("image_decode", "rgb.webp", save(rgb, "WEBP", quality=80))
    put("image_decode", "rgb.tif", save(rgb, "TIFF"))
    rgba = rgb.convert("RGBA")
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    put("image_decode", "rgba.png", save(rgba, "PNG"))
    put("image_decode", "rgba.webp", save(rgba, "WEBP", lossless=True))
    put("image_decode", "grey.png", save(rgb.convert("L"), "PNG"))
    put("image_decode", "palette.png", save(rgb.convert("P"), "PNG"))
    put("image_decode", "cmyk.jpg", save(rgb.convert("CMYK"), "JPEG"))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW
    put("image_decode", "rotated.jpg", save(rgb, "JPEG", exif=exif.tobytes()))
    put("image_decode", "rgb16.png", save(Image.new("I;16", (4, 4), 1000), "PNG"))


def onnx_bytes(nodes, inputs, outputs, inits):
    g = helper.make_graph(nodes, "seed", inputs, outputs, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m.SerializeToString()


def onnx_seeds():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])
    b = numpy_helper.from_array(np.ones((1, 3, 1, 1), np.float32), "b")
    put("onnx_model", "add.onnx", onnx_bytes([helper.make_node("Add", ["x", "b"], ["y"])], [x], [y], [b]))
    w = numpy_helper.from_array(np.ones((3, 3, 3, 3), np.float16), "w")
    conv = helper.make_node("Conv", ["x16", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    cast = helper.make_node("Cast", ["x"], ["x16"], to=TensorProto.FLOAT16)
    back = helper.make_node("Cast", ["c"], ["y"], to=TensorProto.FLOAT)
    put("onnx_model", "conv_fp16.onnx", onnx_bytes([back, conv, cast], [x], [y], [w]))
    # 16400 floats = 65600 bytes of raw_data: over the 64 KiB at which load_model maps it.
    big = numpy_helper.from_array(np.full((16400,), 0.5, np.float32), "big")
    xb = helper.make_tensor_value_info("x", TensorProto.FLOAT, [16400])
    yb = helper.make_tensor_value_info("y", TensorProto.FLOAT, [16400])
    put("onnx_model", "mapped.onnx", onnx_bytes([helper.make_node("Mul", ["x", "big"], ["y"])], [xb], [yb], [big]))
    shape = numpy_helper.from_array(np.array([1, 48], np.int64), "shape")
    put("onnx_model", "reshape.onnx",
        onnx_bytes([helper.make_node("Reshape", ["x", "shape"], ["y"])], [x],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 48])], [shape]))


def card_seeds():
    put("card_json", "create.json", json.dumps({"fullName": "Ada Lovelace", "idNumber": "A-1", "organization": "Acme",
                                                "role": "Engineer", "issuedAt": "2026-01-01",
                                                "expiresAt": "2030-12-31", "photoSpec": "card"}))
    put("card_json", "patch_nulls.json", '{"role":null,"photoSpec":null,"expiresAt":""}')
    put("card_json", "unicode.json", '{"fullName":"Zo\\u00eb \u0416\u0443\u043a \u674e","organization":"\\ud83d\\ude00"}')
    put("card_json", "duplicate.json", '{"fullName":"a","fullName":"b"}')
    put("card_json", "nested.json", '{"fullName":"x","id":"read-only","photoFace":{"a":[1,2.5e3,true,null]}}')
    put("card_json", "wrong_type.json", '{"fullName":42}')
    put("card_json", "array.json", '[{"fullName":"x"}]')


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def token(header, payload):
    si = b64(header.encode()) + b"." + b64(payload.encode())
    return si + b"." + b64(hmac.new(SECRET, si, hashlib.sha256).digest())


def jwt_seeds():
    hs = '{"alg":"HS256","typ":"JWT"}'
    put("jwt", "valid.tok", b"\x00" + token(hs, '{"sub":"ops","exp":1900000000,"iat":1700000000}'))
    put("jwt", "expired.tok", b"\x00" + token(hs, '{"sub":"ops","exp":1000}'))
    put("jwt", "none.tok", b"\x00" + token('{"alg":"none"}', '{"exp":1900000000}'))
    put("jwt", "b64.txt", b"\x02" + b64(bytes(range(40))))
    put("jwt", "claims_nbf", b"\x01" + hs.encode() + b'\n{"exp":1900000000,"nbf":1799999990,"sub":"a"}')
    put("jwt", "claims_dup", b"\x01" + hs.encode() + b'\n{"exp":1,"exp":1900000000}')
    put("jwt", "claims_float", b"\x01" + b'{"alg":"HS256"}\n{"exp":1.9e9,"iat":-5,"sub":7}')


def url_seeds():
    put("url_policy", "https_relative", "https://photos.example.com/a/b.jpg?x=1#f\n../c.png")
    put("url_policy", "loopback_allow", "http://127.0.0.1:8080/p.png\n127.0.0.0/8")
    put("url_policy", "mapped_v6", "http://[::ffff:10.1.2.3]/x\n::ffff:10.0.0.0/104")
    put("url_policy", "v6_public", "https://[2001:4860:4860::8888]:443/\n2001:db8::/32")
    put("url_policy", "metadata", "http://169.254.169.254/latest/meta-data/\n//other.example/x")
    put("url_policy", "credentials", "https://user:pw@example.com/\nhttp:///x")
    put("url_policy", "ip_text", "100.64.0.1\n0.0.0.0/0")


def csv_seeds():
    put("batch_csv", "roster.csv", "fullName,idNumber,organization,role,issuedAt,expiresAt,photo\r\n"
        "Ada Lovelace,A-1,Acme,Engineer,2026-01-01,2030-12-31,ada.jpg\r\n"
        "\"Hopper, Grace\",A-2,,\"Rear \"\"Amazing\"\" Admiral\",,,grace.png\r\n")
    put("batch_csv", "semicolon_bom.csv", "\ufeffFull Name;ID Number;Photo\n\"multi\nline\";7;\nBob;8;b.webp\n")
    put("batch_csv", "problems.csv", "full_name,id_number,extra\n,1,x\nA,1\nB,1,y,z\nC,2026-13-01,=cmd\n")
    put("batch_csv", "cr_only.csv", "fullName\rA\rB\r")


def zip_seeds():
    def z(entries, method=zipfile.ZIP_DEFLATED):
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w", method) as f:
            for name, data in entries:
                f.writestr(name, data)
        return b.getvalue()

    put("batch_zip", "photos.zip", z([("photos/ada.jpg", b"\xff\xd8\xff" + b"a" * 64), ("grace.png", b"\x89PNG" * 8)]))
    put("batch_zip", "stored.zip", z([("a.jpg", b"x" * 10), ("dir/", b""), ("__MACOSX/._a.jpg", b"r")],
                                     zipfile.ZIP_STORED))
    put("batch_zip", "traversal.zip", z([("../evil.jpg", b"x")]))
    put("batch_zip", "ratio.zip", z([("big.jpg", b"\0" * 70000)]))
    put("batch_zip", "empty.zip", z([]))


def multipart_seeds():
    # The first line is the Content-Type (fuzz/multipart.cpp), the rest the body.
    def form(boundary, parts, ct=None, end=True):
        body = "".join(f"--{boundary}\r\n{h}\r\n\r\n{c}\r\n" for h, c in parts)
        return (ct or f"multipart/form-data; boundary={boundary}") + "\n" + body + (f"--{boundary}--\r\n" if end else "")
    photo = 'Content-Disposition: form-data; name="photo"; filename="p.jpg"\r\nContent-Type: image/jpeg'
    put("multipart", "photo", form("b0undary", [(photo, "\xff\xd8\xffjpeg")]))
    put("multipart", "fields", form("x-y_z", [('Content-Disposition: form-data; name="spec"', "passport-us"),
                                               ('Content-Disposition: form-data; name="bg"', "#ffffff"), (photo, "img")]))
    put("multipart", "quoted", form("q b", [(photo, "a")], ct='multipart/form-data; boundary="q b"'))
    put("multipart", "preamble", "multipart/form-data; boundary=p\npreamble\r\n" + form("p", [(photo, "x")]).split("\n", 1)[1] + "epilogue")
    put("multipart", "truncated", form("t", [(photo, "half")], end=False))
    put("multipart", "fixed-boundary", form("fuzzBoundary42", [(photo, "z")]).split("\n", 1)[1])


if __name__ == "__main__":
    image_seeds()
    onnx_seeds()
    card_seeds()
    jwt_seeds()
    url_seeds()
    csv_seeds()
    zip_seeds()
    multipart_seeds()
