#!/usr/bin/python3
# Converts a TFLite convolutional graph (MediaPipe's FaceMesh face_landmark.tflite) into an
# ONNX file, once, at fetch time. Reads the TFLite flatbuffer with our own decoder below.
"""
Usage: tflite_to_onnx.py IN.tflite OUT.onnx

Why our own decoder: Debian 12 ships no TFLite schema, reader or runtime, and the npm
package ships the model only as a .tflite. The flatbuffer format is small and documented
(flatbuffers.dev "internals"; the TFLite schema, tensorflow/lite/schema/schema.fbs, gives
the table layouts); only the tables this graph uses are decoded, and anything else in the
file (another op, a quantised tensor, a second subgraph, a fused activation other than
RELU) stops the conversion with a message instead of being guessed at.

What is converted, op by op (TFLite is NHWC, ONNX here NCHW):
  DEQUANTIZE (float16 constant -> float32)  the float16 initialiser (kept float16, rearranged
                                   for its consumer) + Cast(to=FLOAT): exact, and the
                                   file stays half the size
  CONV_2D          Conv; kernel OHWI -> OIHW; SAME/VALID -> explicit pads (TF's rule: the
                   odd pixel goes after); fused RELU -> Relu
  DEPTHWISE_CONV_2D  Conv with group = input channels; kernel [1,H,W,C*M] -> [C*M,1,H,W]
  PRELU            PRelu; alpha [1,1,C] -> [C,1,1]
  ADD              Add (+ Relu when fused)
  MAX_POOL_2D      MaxPool with explicit pads
  PAD              Pad (constant 0); paddings [[n],[h],[w],[c]] -> ONNX NCHW begin/end order
The graph's interface stays TFLite's: the input keeps its NHWC shape and name (a Transpose
to NCHW follows it), every output keeps its NHWC shape and name (a Transpose back precedes it).

Deterministic: the same .tflite gives byte-identical ONNX (no timestamps; nodes and
initialisers in the TFLite order; protobuf serialisation of these messages has a fixed
field order), so scripts/fetch-models pins the output's sha256.
"""
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# TFLite enums (tensorflow/lite/schema/schema.fbs)
OPS = {0: "ADD", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 6: "DEQUANTIZE", 17: "MAX_POOL_2D", 34: "PAD", 54: "PRELU"}
T_FLOAT32, T_FLOAT16, T_INT32 = 0, 1, 2
NP_TYPE = {T_FLOAT32: "<f4", T_FLOAT16: "<f2", T_INT32: "<i4"}
PAD_SAME, PAD_VALID = 0, 1
ACT_NONE, ACT_RELU = 0, 1
OPSET = 13


def fail(msg):
    print(f"tflite_to_onnx: {msg}", file=sys.stderr)
    sys.exit(1)


class Table:
    """One flatbuffer table: a position in the buffer and its vtable."""

    def __init__(self, buf, pos):
        self.b = buf
        self.pos = pos
        if pos < 0 or pos + 4 > len(buf):
            fail(f"table offset {pos} outside the file")
        self.vt = pos - struct.unpack_from("<i", buf, pos)[0]
        if self.vt < 0 or self.vt + 4 > len(buf):
            fail(f"vtable offset {self.vt} outside the file")
        self.vt_len = struct.unpack_from("<H", buf, self.vt)[0]

    def _field(self, i):
        o = 4 + 2 * i
        return struct.unpack_from("<H", self.b, self.vt + o)[0] if o < self.vt_len else 0

    def scalar(self, i, fmt, default=0):
        o = self._field(i)
        return struct.unpack_from("<" + fmt, self.b, self.pos + o)[0] if o else default

    def _ref(self, i):
        o = self._field(i)
        if not o:
            return None
        p = self.pos + o
        return p + struct.unpack_from("<I", self.b, p)[0]

    def table(self, i):
        r = self._ref(i)
        return Table(self.b, r) if r is not None else None

    def _vector(self, i):
        r = self._ref(i)
        if r is None:
            return None, 0
        n = struct.unpack_from("<I", self.b, r)[0]
        return r + 4, n

    def tables(self, i):
        p, n = self._vector(i)
        if p is None:
            return []
        return [Table(self.b, p + 4 * k + struct.unpack_from("<I", self.b, p + 4 * k)[0]) for k in range(n)]

    def ints(self, i, fmt="i"):
        p, n = self._vector(i)
        if p is None:
            return None
        return list(struct.unpack_from(f"<{n}{fmt}", self.b, p))

    def bytes(self, i):
        p, n = self._vector(i)
        if p is None:
            return b""
        if p + n > len(self.b):
            fail("a byte vector runs past the end of the file")
        return self.b[p:p + n]

    def string(self, i):
        return self.bytes(i).decode("utf-8")


def read_model(path):
    buf = open(path, "rb").read()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        fail(f"{path} is not a TFLite flatbuffer (no TFL3 identifier)")
    m = Table(buf, struct.unpack_from("<I", buf, 0)[0])
    if m.scalar(0, "I") != 3:
        fail(f"TFLite schema version {m.scalar(0, 'I')}, expected 3")
    # OperatorCode: deprecated_builtin_code (byte, field 0), builtin_code (int, field 3):
    # files of schema >= 2.3 may use either; the larger one is the op.
    codes = []
    for oc in m.tables(1):
        if oc.string(1):
            fail(f"custom op '{oc.string(1)}' in the graph")
        codes.append(max(oc.scalar(0, "b"), oc.scalar(3, "i")))
    subgraphs = m.tables(2)
    if len(subgraphs) != 1:
        fail(f"{len(subgraphs)} subgraphs, expected 1")
    buffers = [b.bytes(0) for b in m.tables(4)]
    g = subgraphs[0]
    tensors = []
    for t in g.tables(0):
        q = t.table(4)  # QuantizationParameters: min, max, scale, zero_point, ...
        if q is not None and (q.ints(2, "f") or q.ints(3, "q")):
            fail(f"tensor '{t.string(3)}' is quantised")
        tensors.append({"name": t.string(3), "shape": t.ints(0) or [], "type": t.scalar(1, "b"),
                        "data": buffers[t.scalar(2, "I")]})
    ops = []
    for op in g.tables(3):
        code = codes[op.scalar(0, "I")]
        if code not in OPS:
            fail(f"builtin op {code} is not converted")
        ops.append({"op": OPS[code], "in": op.ints(1), "out": op.ints(2), "opt": op.table(4)})
    return tensors, ops, g.ints(1), g.ints(2)


def const_array(t):
    if t["type"] not in NP_TYPE:
        fail(f"tensor '{t['name']}' has TFLite type {t['type']}")
    a = np.frombuffer(t["data"], dtype=NP_TYPE[t["type"]])
    if a.size != int(np.prod(t["shape"])):
        fail(f"tensor '{t['name']}' has {a.size} values for shape {t['shape']}")
    return a.reshape(t["shape"])


def same_pads(size, k, s, d):
    """TF SAME: out = ceil(size / s); the odd padding pixel goes after."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def spatial_pads(padding, h, w, kh, kw, sh, sw, dh=1, dw=1):
    if padding == PAD_VALID:
        return [0, 0, 0, 0]
    if padding != PAD_SAME:
        fail(f"padding mode {padding}")
    t, b = same_pads(h, kh, sh, dh)
    l, r = same_pads(w, kw, sw, dw)
    return [t, l, b, r]


def convert(tensors, ops, inputs, outputs):
    nodes, inits = [], []
    fp16_src = {}  # DEQUANTIZE output tensor -> its float16 source tensor
    for op in ops:
        if op["op"] == "DEQUANTIZE":
            src = tensors[op["in"][0]]
            if src["type"] != T_FLOAT16 or not src["data"]:
                fail(f"DEQUANTIZE of '{src['name']}' is not a float16 constant")
            fp16_src[op["out"][0]] = op["in"][0]
    layout_of = {}  # fp16 source -> the rearrangement its consumer needs
    nhwc = set(inputs)  # tensors still in NHWC (only graph inputs)

    def name(i):
        return tensors[i]["name"]

    made = {}  # constant tensor -> the float32 value made for it

    def weight(i, layout):
        """Name of a float32 value holding constant tensor i rearranged by `layout`."""
        src = fp16_src.get(i, i)
        t = tensors[src]
        prev = layout_of.setdefault(src, layout)
        if prev != layout:
            fail(f"constant '{t['name']}' feeds ops that need different layouts")
        if i in made:
            return made[i]
        made[i] = weight_value(i, t, layout)
        return made[i]

    def weight_value(i, t, layout):
        a = const_array(t)
        if layout == "ohwi_to_oihw":
            a = a.transpose(0, 3, 1, 2)
        elif layout == "1hwc_to_c1hw":
            a = a.transpose(3, 0, 1, 2)
        elif layout == "hwc_alpha_to_c11":
            a = a.reshape(-1, 1, 1)
        init_name = t["name"]
        inits.append(numpy_helper.from_array(np.ascontiguousarray(a), init_name))
        if a.dtype == np.float16:
            nodes.append(helper.make_node("Cast", [init_name], [name(i)], to=TensorProto.FLOAT,
                                          name=name(i) + "/cast"))
            return name(i)
        if a.dtype != np.float32:
            fail(f"constant '{t['name']}' is {a.dtype}, expected float16 or float32")
        return init_name

    def emit(node, act, label):
        """Appends node, and a Relu after it when the TFLite op fused one."""
        if act == ACT_NONE:
            nodes.append(node)
            return
        if act != ACT_RELU:
            fail(f"{label}: fused activation {act} is not converted")
        out = node.output[0]
        node.output[0] = out + "/pre_relu"
        nodes.append(node)
        nodes.append(helper.make_node("Relu", [out + "/pre_relu"], [out], name=label + "/relu"))

    for i in inputs:
        nodes.append(helper.make_node("Transpose", [name(i)], [name(i) + "/nchw"], perm=[0, 3, 1, 2],
                                      name=name(i) + "/to_nchw"))

    def act_in(i):
        return name(i) + "/nchw" if i in nhwc else name(i)

    out_set = set(outputs)

    def act_out(i):
        return name(i) + "/nchw" if i in out_set else name(i)

    for op in ops:
        kind, ins, outs, opt = op["op"], op["in"], op["out"], op["opt"]
        if kind == "DEQUANTIZE":
            continue
        y = outs[0]
        label = name(y)
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            x, w = ins[0], ins[1]
            b = ins[2] if len(ins) > 2 and ins[2] >= 0 else None
            _, h, wd, c = tensors[x]["shape"]
            ws = tensors[fp16_src.get(w, w)]["shape"]
            if kind == "CONV_2D":
                # Conv2DOptions: padding, stride_w, stride_h, fused_activation_function,
                # dilation_w_factor, dilation_h_factor
                padding, sw, sh = opt.scalar(0, "b"), opt.scalar(1, "i"), opt.scalar(2, "i")
                act, dw, dh = opt.scalar(3, "b"), opt.scalar(4, "i", 1), opt.scalar(5, "i", 1)
                kh, kw, group, layout = ws[1], ws[2], 1, "ohwi_to_oihw"
                if ws[3] != c:
                    fail(f"{label}: kernel {ws} does not fit {c} input channels")
            else:
                # DepthwiseConv2DOptions: padding, stride_w, stride_h, depth_multiplier,
                # fused_activation_function, dilation_w_factor, dilation_h_factor
                padding, sw, sh = opt.scalar(0, "b"), opt.scalar(1, "i"), opt.scalar(2, "i")
                mult, act = opt.scalar(3, "i", 1), opt.scalar(4, "b")
                dw, dh = opt.scalar(5, "i", 1), opt.scalar(6, "i", 1)
                kh, kw, group, layout = ws[1], ws[2], c, "1hwc_to_c1hw"
                if ws[0] != 1 or ws[3] != c * mult:
                    fail(f"{label}: depthwise kernel {ws} does not fit {c} channels x {mult}")
            pads = spatial_pads(padding, h, wd, kh, kw, sh, sw, dh, dw)
            conv_ins = [act_in(x), weight(w, layout)] + ([weight(b, "as_is")] if b is not None else [])
            emit(helper.make_node("Conv", conv_ins, [act_out(y)], kernel_shape=[kh, kw], strides=[sh, sw],
                                  dilations=[dh, dw], pads=pads, group=group, name=label), act, label)
        elif kind == "PRELU":
            nodes.append(helper.make_node("PRelu", [act_in(ins[0]), weight(ins[1], "hwc_alpha_to_c11")],
                                          [act_out(y)], name=label))
        elif kind == "ADD":
            act = opt.scalar(0, "b") if opt is not None else ACT_NONE
            emit(helper.make_node("Add", [act_in(ins[0]), act_in(ins[1])], [act_out(y)], name=label), act, label)
        elif kind == "MAX_POOL_2D":
            # Pool2DOptions: padding, stride_w, stride_h, filter_width, filter_height, fused_activation
            padding, sw, sh = opt.scalar(0, "b"), opt.scalar(1, "i"), opt.scalar(2, "i")
            fw, fh, act = opt.scalar(3, "i"), opt.scalar(4, "i"), opt.scalar(5, "b")
            _, h, wd, _ = tensors[ins[0]]["shape"]
            emit(helper.make_node("MaxPool", [act_in(ins[0])], [act_out(y)], kernel_shape=[fh, fw],
                                  strides=[sh, sw], pads=spatial_pads(padding, h, wd, fh, fw, sh, sw), name=label),
                 act, label)
        elif kind == "PAD":
            p = const_array(tensors[ins[1]])
            if p.shape != (4, 2) or (p < 0).any():
                fail(f"{label}: paddings {p.tolist()} are not 4-D and non-negative")
            nchw = [0, 3, 1, 2]
            pads = [int(p[d, 0]) for d in nchw] + [int(p[d, 1]) for d in nchw]
            pads_name = label + "/pads"
            inits.append(numpy_helper.from_array(np.array(pads, dtype=np.int64), pads_name))
            nodes.append(helper.make_node("Pad", [act_in(ins[0]), pads_name], [act_out(y)], mode="constant",
                                          name=label))
        else:
            fail(f"op {kind} is not converted")
        if tensors[y]["type"] != T_FLOAT32:
            fail(f"{label}: output type {tensors[y]['type']}, expected float32")

    for i in outputs:
        nodes.append(helper.make_node("Transpose", [name(i) + "/nchw"], [name(i)], perm=[0, 2, 3, 1],
                                      name=name(i) + "/to_nhwc"))

    def info(i):
        return helper.make_tensor_value_info(name(i), TensorProto.FLOAT, tensors[i]["shape"])

    graph = helper.make_graph(nodes, "face_landmark", [info(i) for i in inputs], [info(i) for i in outputs],
                              initializer=inits)
    model = helper.make_model(graph, producer_name="idphoto scripts/tflite_to_onnx.py", producer_version="1",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    tensors, ops, inputs, outputs = read_model(sys.argv[1])
    model = convert(tensors, ops, inputs, outputs)
    with open(sys.argv[2], "wb") as f:
        f.write(model.SerializeToString())
    print(f"tflite_to_onnx: {len(ops)} TFLite ops -> {len(model.graph.node)} ONNX nodes, "
          f"{len(model.graph.initializer)} initialisers")


if __name__ == "__main__":
    main()
