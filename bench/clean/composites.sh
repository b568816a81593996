#!/usr/bin/env bash
# Before/after pictures for docs/: the photo, idphoto's result and the peer's cut-out, both
# on the default blue (#438EDB), side by side, plus a 3x detail of hair and shoulder.
# Only licence-clear photos are used (the eval sets' licences are unclear and stay out of
# the repo): astronaut.png (NASA, public domain) and camera.png (CC0, Lav Varshney), both
# from Debian's python3-skimage.
#
# usage: bench/clean/composites.sh IDPHOTO_BIN      writes docs/images/before_after_*.png
# Needs: bench/npm/setup (peer), /usr/bin/python3 with PIL, the models.
set -euo pipefail
bin=$(realpath "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
data=/usr/lib/python3/dist-packages/skimage/data
work=$(mktemp -d "${TMPDIR:-/tmp}/idphoto-composites.XXXXXX")
trap 'rm -rf "$work"' EXIT
export IDPHOTO_MODELS_DIR="$root/models"
mkdir -p "$work/in" "$root/docs/images"
# camera.png is grey; the peer refuses grey input ("Only 4-channel images are supported"),
# so both tools get an RGB copy.
cp "$data/astronaut.png" "$work/in/"
/usr/bin/python3 -c "import sys; from PIL import Image; Image.open(sys.argv[1]).convert('RGB').save(sys.argv[2])" \
  "$data/camera.png" "$work/in/camera.png"
"$bin" clean "$work/in" --out-dir "$work/ours" > /dev/null
"$root/bench/npm/setup" > /dev/null
node "$root/bench/clean/peer_clean.mjs" "$work/in" "$work/peer" > "$work/peer.log"
/usr/bin/python3 - "$work" "$root/docs/images" <<'PY'
import os, sys
from PIL import Image, ImageDraw
work, out = sys.argv[1:3]
blue = (0x43, 0x8E, 0xDB)
def on_blue(im):
    bg = Image.new("RGB", im.size, blue)
    bg.paste(im.convert("RGB"), mask=im.getchannel("A"))
    return bg
for stem, detail in (("astronaut", (300, 60, 470, 230)), ("camera", (150, 30, 330, 210))):
    src = Image.open(f"{work}/in/{stem}.png").convert("RGB")
    ours = Image.open(f"{work}/ours/{stem}.png").convert("RGB")
    peer = on_blue(Image.open(f"{work}/peer/{stem}.png").convert("RGBA"))
    side = 400
    tiles = [im.resize((side, round(im.height * side / im.width))) for im in (src, ours, peer)]
    h = max(t.height for t in tiles)
    sheet = Image.new("RGB", (side * 3 + 20, h + 24), (255, 255, 255))
    d = ImageDraw.Draw(sheet)
    for k, (t, label) in enumerate(zip(tiles, ("photo", "idphoto", "peer (imgly 1.4.5)"))):
        sheet.paste(t, (k * (side + 10), 24))
        d.text((k * (side + 10) + 4, 4), label, fill=(0, 0, 0))
    sheet.save(f"{out}/before_after_{stem}.png", optimize=True)
    # Detail: the same box from each, 2.5x, nearest so the pixels show.
    crops = [im.resize(src.size).crop(detail) for im in (src, ours, peer)]
    cw, ch = crops[0].size
    z = 2.5
    crops = [c.resize((round(cw * z), round(ch * z)), Image.NEAREST) for c in crops]
    sheet = Image.new("RGB", (crops[0].width * 3 + 20, crops[0].height + 24), (255, 255, 255))
    d = ImageDraw.Draw(sheet)
    for k, (c, label) in enumerate(zip(crops, ("photo", "idphoto", "peer"))):
        sheet.paste(c, (k * (crops[0].width + 10), 24))
        d.text((k * (crops[0].width + 10) + 4, 4), label + " (detail)", fill=(0, 0, 0))
    sheet.save(f"{out}/before_after_{stem}_detail.png", optimize=True)
    print(f"{out}/before_after_{stem}.png, {out}/before_after_{stem}_detail.png")
PY
