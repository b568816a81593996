#!/usr/bin/python3
# Make the face models' input tensors (raw little-endian float32, NHWC) from licence-clear
# photos, for the whole-model comparison of our runtime with ONNX Runtime.
"""
Usage: make_face_inputs.py OUT_DIR

Writes, and prints one per line:
  OUT_DIR/blazeface_<photo>.f32  [1,128,128,3]: the photo letterboxed into 128 x 128 (aspect
      kept, centred, black around; PIL bilinear), RGB scaled to [-1, 1] (BlazeFace's input)
  OUT_DIR/mesh_<photo>.f32       [1,192,192,3]: a square crop around the face (fixed boxes
      below, ~1.5x the face), resized to 192 x 192, RGB scaled to [0, 1] (FaceMesh's input)
  OUT_DIR/mesh_<photo>_turned.f32  the same crop of the photo turned by 25 degrees
The preprocessing here is PIL's, not ours: the test compares the runtimes on the same
tensor, not our sampler (tests/face checks that).

Photos (public domain): grace_hopper_512x512.jpg from Debian's facedetect (US Navy),
astronaut.png from Debian's python3-skimage (NASA).
"""
import os
import sys

import numpy as np
from PIL import Image

PHOTOS = {
    "grace_hopper": ("/usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg", (115, 80, 420, 385)),
    "astronaut": ("/usr/lib/python3/dist-packages/skimage/data/astronaut.png", (155, 55, 300, 200)),
}


def fail(msg):
    print(f"make_face_inputs: {msg}", file=sys.stderr)
    sys.exit(1)


def save(out_dir, name, arr):
    path = os.path.join(out_dir, name + ".f32")
    np.ascontiguousarray(arr[np.newaxis], dtype="<f4").tofile(path)
    print(path)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for name, (path, box) in PHOTOS.items():
        if not os.path.isfile(path):
            fail(f"{path} missing (apt-get install facedetect python3-skimage)")
        with Image.open(path) as im:
            rgb = im.convert("RGB")
        w, h = rgb.size
        s = 128 / max(w, h)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        canvas = Image.new("RGB", (128, 128))
        canvas.paste(rgb.resize((nw, nh), Image.BILINEAR), ((128 - nw) // 2, (128 - nh) // 2))
        save(out_dir, f"blazeface_{name}", np.asarray(canvas, dtype=np.float32) / 127.5 - 1.0)
        crop = rgb.crop(box).resize((192, 192), Image.BILINEAR)
        save(out_dir, f"mesh_{name}", np.asarray(crop, dtype=np.float32) / 255.0)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        turned = rgb.rotate(25, resample=Image.BILINEAR, center=(cx, cy)).crop(box).resize((192, 192), Image.BILINEAR)
        save(out_dir, f"mesh_{name}_turned", np.asarray(turned, dtype=np.float32) / 255.0)


if __name__ == "__main__":
    main()
