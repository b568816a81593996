#!/usr/bin/python3
# Write an fp32 copy of an fp16 ONNX model (weights widened, Casts to fp16 made Casts to fp32), so
# the benchmark can show ONNX Runtime's speed without the fp16<->fp32 Casts it inserts on x86.
"""
Usage: widen_fp16.py IN.onnx OUT.onnx

Every fp16 initializer and Constant becomes fp32 (exact: fp16 -> fp32 loses
nothing), every Cast to fp16 becomes a Cast to fp32, and fp16 value types
become fp32. The result computes the same network with fp32 intermediates; its
map differs from the fp16 file's by < 1e-3 (see tests/model/test_ort_oracle.sh).
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper


def widen_tensor(t):
    if t.data_type == TensorProto.FLOAT16:
        t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float32), t.name))


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    model = onnx.load(sys.argv[1])
    g = model.graph
    for t in g.initializer:
        widen_tensor(t)
    n_cast = 0
    for n in g.node:
        for a in n.attribute:
            if n.op_type == "Constant" and a.name == "value":
                widen_tensor(a.t)
            if n.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT16:
                a.i = TensorProto.FLOAT
                n_cast += 1
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT16:
            vi.type.tensor_type.elem_type = TensorProto.FLOAT
    onnx.save(model, sys.argv[2])
    print(f"widen_fp16: {n_cast} Casts to fp16 now to fp32; wrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
