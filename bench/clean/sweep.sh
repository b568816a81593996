#!/usr/bin/env bash
# Model input size and fit sweep on the dev set (fasseg_frontal02): quality of the final
# alpha (score.py), median inference ms per photo and peak RSS on a 12-MP JPEG, per setting.
# Prints a markdown table (the one in docs/performance.md, "Choosing the model size").
#
# usage: bench/clean/sweep.sh IDPHOTO_BIN [SIZES...]   (default sizes: 384 448 512 576 640 768 1024)
# Needs: /usr/bin/time, /usr/bin/python3 with numpy + PIL, the models (make models).
set -euo pipefail
bin=$(realpath "$1"); shift
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(384 448 512 576 640 768 1024)
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/bench/clean/shared_dir.sh"
sets="$shared/eval/sets"
score="$shared/eval/score.py"
py=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/idphoto-sweep.XXXXXX")
trap 'rm -rf "$work"' EXIT
export IDPHOTO_MODELS_DIR="$root/models"
"$py" - "$sets/fasseg_frontal02/images/test_1.png" "$work/big12mp.jpg" <<'PY'
import sys
from PIL import Image
Image.open(sys.argv[1]).convert("RGB").resize((3000, 4000), Image.LANCZOS).save(sys.argv[2], quality=92)
PY
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| size | fit | IoU | MAE | edge-MAE | infer ms (median) | peak RSS 12 MP (MB) |"
echo "|---:|---|---:|---:|---:|---:|---:|"
run() {  # size fit
  local s=$1 fit=$2 out="$work/m_$1_$2"
  "$bin" clean "$sets/fasseg_frontal02/images" --mask --model-size "$s" --fit "$fit" --out-dir "$out" --json \
    > "$work/r.jsonl" 2> /dev/null || true
  local q; q=$("$py" "$score" "$sets/fasseg_frontal02/masks" "$out" | tail -1)
  /usr/bin/time -f "%M" -o "$work/rss" "$bin" clean "$work/big12mp.jpg" --model-size "$s" --fit "$fit" \
    -o "$work/big.png" > /dev/null 2>&1
  "$py" - "$s" "$fit" "$q" "$work/r.jsonl" "$(cat "$work/rss")" <<'PY'
import json, statistics, sys
s, fit, q, jl, rss = sys.argv[1:6]
q = json.loads(q)
ms = [json.loads(l)["steps_ms"]["infer"] for l in open(jl) if '"steps_ms"' in l]
print(f"| {s} | {fit} | {q['iou']:.4f} | {q['mae']:.4f} | {q['edge_mae']:.4f} | "
      f"{statistics.median(ms):.0f} | {int(rss)/1024:.0f} |")
PY
}
for s in "${sizes[@]}"; do run "$s" squash; done
for s in 512 640; do run "$s" letterbox; done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
