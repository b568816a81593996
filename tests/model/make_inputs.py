#!/usr/bin/python3
# Make ISNet input tensors (raw little-endian float32 NCHW [1,3,S,S]) from real photos shipped by
# Debian's python3-skimage, for the whole-model comparison with ONNX Runtime and the benchmarks.
"""
Usage: make_inputs.py OUT_DIR SIZE [PHOTO ...]

Writes OUT_DIR/<photo>_<SIZE>.f32 for each photo (default: all three below) and
prints the written paths, one per line.

Preprocessing is ISNet's: RGB, resized to SIZE x SIZE with PIL bilinear, aspect
ratio NOT kept ("squash", as rembg/imgly do), then (x - 128) / 256, NCHW float32.

The photos, from /usr/lib/python3/dist-packages/skimage/data (Debian package
python3-skimage; the licences are those stated in skimage.data's docstrings):
  astronaut  512x512  Eileen Collins, NASA Great Images database: "No known
                      copyright restrictions, released into the public domain."
  coffee     600x400  Coffee cup, courtesy of Pikolo Espresso Bar: "No copyright
                      restrictions. CC0 by the photographer (Rachel Michetti)."
  chelsea    451x300  Chelsea the cat: "No copyright restrictions. CC0 by the
                      photographer (Stefan van der Walt)."
"""
import os
import sys

import numpy as np
from PIL import Image

SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
PHOTOS = ("astronaut", "coffee", "chelsea")


def fail(msg):
    print(f"make_inputs: {msg}", file=sys.stderr)
    sys.exit(1)


def to_tensor(path, size):
    """[1,3,size,size] float32, (x-128)/256, from the photo at path."""
    with Image.open(path) as im:
        rgb = im.convert("RGB").resize((size, size), Image.BILINEAR)
    x = (np.asarray(rgb, dtype=np.float32) - 128.0) / 256.0  # H,W,C
    return np.ascontiguousarray(x.transpose(2, 0, 1)[np.newaxis]).astype("<f4")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    out_dir, size = sys.argv[1], int(sys.argv[2])
    names = sys.argv[3:] or list(PHOTOS)
    if size <= 0:
        fail("SIZE must be positive")
    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        if name not in PHOTOS:
            fail(f"unknown photo '{name}' (have: {', '.join(PHOTOS)})")
        src = os.path.join(SKIMAGE_DATA, name + ".png")
        if not os.path.isfile(src):
            fail(f"{src} missing (apt-get install python3-skimage)")
        dst = os.path.join(out_dir, f"{name}_{size}.f32")
        to_tensor(src, size).tofile(dst)
        print(dst)


if __name__ == "__main__":
    main()
