#!/usr/bin/python3
# Write a copy of an ONNX model whose baked Resize size targets are rescaled for another input size,
# so ONNX Runtime (which cannot re-plan them) can serve as the oracle at sizes other than the export's.
"""
Usage: retarget_resize.py IN.onnx OUT.onnx SIZE [--native N]

SIZE is S (square) or H,W. --native is the input side the model was exported at
(default 1024).

The ISNet export bakes every upsampling as
    Resize(x, '', '', Concat(Slice(Shape(x), 0, 2), Constant[h, w]))
with [h, w] valid only for a 1024x1024 input. Our own planner makes such a Resize
follow the spatial size of the tensor it is concatenated/added with (or the model
input's size when it feeds an output). For ONNX Runtime we get the same graph by
rewriting each such constant to [h*H/N, w*W/N]. A value that does not scale to an
integer is refused (exit 1): the planner would then have to round, and this
script must not guess how.

The graph's input and output shapes are rescaled the same way, and the stored
intermediate shapes (value_info) are dropped so ORT infers them afresh.
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def fail(msg):
    print(f"retarget_resize: {msg}", file=sys.stderr)
    sys.exit(1)


def parse_args(argv):
    args = [a for a in argv]
    native = 1024
    if "--native" in args:
        i = args.index("--native")
        if i + 1 >= len(args):
            fail("--native needs a value")
        native = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    src, dst, size = args
    parts = size.split(",")
    if len(parts) == 1:
        h = w = int(parts[0])
    elif len(parts) == 2:
        h, w = int(parts[0]), int(parts[1])
    else:
        fail(f"size '{size}' is neither S nor H,W")
    if h <= 0 or w <= 0 or native <= 0:
        fail("sizes must be positive")
    return src, dst, h, w, native


def scale_exact(value, target, native, what):
    """value*target/native, refusing anything that is not an integer."""
    num = int(value) * target
    if num % native:
        fail(f"{what}: {value}*{target}/{native} is not an integer")
    return num // native


def constant_value(node):
    for a in node.attribute:
        if a.name == "value":
            return numpy_helper.to_array(a.t)
    return None


def set_constant_value(node, array):
    for a in node.attribute:
        if a.name == "value":
            a.t.CopyFrom(numpy_helper.from_array(array, a.t.name))
            return
    fail(f"Constant {node.name} has no 'value' attribute")


def feeds_only_resize_sizes(node, users):
    """True when node is a Concat whose output is used only as some Resize's sizes input."""
    if node.op_type != "Concat":
        return False
    consumers = users.get(node.output[0], [])
    return bool(consumers) and all(
        r.op_type == "Resize" and len(r.input) > 3 and r.input[3] == node.output[0]
        for r in consumers)


def retarget(model, h, w, native):
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    initializers = {t.name: t for t in g.initializer}
    users = {}
    for n in g.node:
        for i in n.input:
            users.setdefault(i, []).append(n)

    done = set()  # size-target tensors already rewritten (a shared one is scaled once)
    n_resize = 0
    for n in g.node:
        if n.op_type != "Resize":
            continue
        if len(n.input) < 4 or not n.input[3]:
            fail(f"Resize {n.name} has no 'sizes' input (scales-based Resize is not handled)")
        concat = producer.get(n.input[3])
        if concat is None or concat.op_type != "Concat" or len(concat.input) != 2:
            fail(f"Resize {n.name}: sizes are not Concat(Slice(Shape(x)), Constant[h,w])")
        target = concat.input[1]
        for u in users.get(target, []):
            if not feeds_only_resize_sizes(u, users):
                fail(f"size target {target} also feeds {u.op_type} {u.name}; refusing to rescale it")
        n_resize += 1
        if target in done:
            continue
        done.add(target)

        src = producer.get(target)
        if src is not None and src.op_type == "Constant":
            old = constant_value(src)
        elif target in initializers:
            old = numpy_helper.to_array(initializers[target])
        else:
            fail(f"Resize {n.name}: size target {target} is not a Constant or initializer")
        if old is None or old.shape != (2,) or old.dtype.kind not in "iu":
            fail(f"Resize {n.name}: size target {target} is not an integer [h, w]")
        new = np.array([scale_exact(old[0], h, native, f"{n.name} height"),
                        scale_exact(old[1], w, native, f"{n.name} width")], dtype=old.dtype)
        if src is not None:
            set_constant_value(src, new)
        else:
            initializers[target].CopyFrom(numpy_helper.from_array(new, target))
    if n_resize == 0:
        fail("model has no Resize; nothing to retarget")
    return n_resize, len(done)


def rescale_io_shapes(model, h, w, native):
    g = model.graph
    for vi in list(g.input) + list(g.output):
        dims = vi.type.tensor_type.shape.dim
        if len(dims) != 4:
            continue
        for d, target in ((dims[2], h), (dims[3], w)):
            if d.HasField("dim_value"):
                d.dim_value = scale_exact(d.dim_value, target, native, f"shape of {vi.name}")
    del g.value_info[:]


def main():
    src, dst, h, w, native = parse_args(sys.argv[1:])
    model = onnx.load(src)
    n_resize, n_targets = retarget(model, h, w, native)
    rescale_io_shapes(model, h, w, native)
    onnx.save(model, dst)
    print(f"retarget_resize: {n_resize} Resize ({n_targets} size targets) rescaled "
          f"{native} -> {h}x{w}; wrote {dst}")


if __name__ == "__main__":
    main()
