#!/usr/bin/env bash
# idphoto clean against the peer (@imgly/background-removal-node 1.4.5, model medium),
# side by side in one run: quality on the dev set, speed per photo, peak RSS on a 12-MP
# JPEG, and RSS over a batch of 100. Writes the "## Clean" section of docs/performance.md.
#
# usage: bench/clean/run.sh IDPHOTO_BIN [--skip-peer]
#   --skip-peer  reuse the peer's stored results (bench/clean/results/*.json) instead of
#                running it again (~10 min); the table then says so.
# Needs: bench/npm/setup (peer), /usr/bin/time, /usr/bin/python3 with numpy + PIL.
set -euo pipefail
bin=$(realpath "$1"); shift
skip_peer=0
[ "${1:-}" = "--skip-peer" ] && skip_peer=1
root=$(cd "$(dirname "$0")/../.." && pwd)
sets="$root/../shared/eval/sets"
score="$root/../shared/eval/score.py"
py=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/idphoto-bench-clean.XXXXXX")
trap 'rm -rf "$work"' EXIT
[ -n "${IDPHOTO_KEEP_TMP:-}" ] && trap - EXIT  # keep the work dir for a look
models="$root/models"
export IDPHOTO_MODELS_DIR="$models"
load() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(load)
echo "bench/clean: load at start $load_start"

# 1. Quality: final alpha (--mask) on the dev set and on humanseg (agreement with remove.bg).
quality() {  # set name -> JSON
  local set=$1 out="$work/ours_$1"
  "$bin" clean "$sets/$set/images" --mask --out-dir "$out" > /dev/null 2>> "$work/ours_$set.log" || true
  "$py" "$score" "$sets/$set/masks" "$out" --json "$work/ours_$set.json" | tail -1
}
for set in fasseg_frontal02 humanseg_removebg290; do
  echo "bench/clean: ours on $set"; quality "$set"
done
if [ $skip_peer -eq 0 ]; then
  echo "bench/clean: peer on fasseg_frontal02"
  "$root/bench/npm/setup" > /dev/null
  "$root/bench/clean/run_peer_quality.sh" fasseg_frontal02 > "$work/peer_quality.log" 2>&1
fi

# 2. Speed: end to end per photo (read, decode, infer, refine, encode, write), the same 20 photos.
mkdir -p "$work/speed20"
ls "$sets/fasseg_frontal02/images" | sort | head -20 | while read -r f; do cp "$sets/fasseg_frontal02/images/$f" "$work/speed20/"; done
"$bin" clean "$work/speed20" --out-dir "$work/speed20_out" --json > "$work/ours_speed.jsonl" 2> /dev/null
if [ $skip_peer -eq 0 ]; then
  echo "bench/clean: peer speed"
  "$root/bench/clean/peer_speed.sh" --n 20 > "$work/peer_speed.log" 2>&1
fi

# 3. Memory: a 12-MP JPEG (a fasseg photo upscaled to 3000x4000), and RSS along a batch of 100.
"$py" - "$sets/fasseg_frontal02/images/test_1.png" "$work/big12mp.jpg" <<'PY'
import sys
from PIL import Image
Image.open(sys.argv[1]).convert("RGB").resize((3000, 4000), Image.BICUBIC).save(sys.argv[2], quality=92)
PY
/usr/bin/time -v "$bin" clean "$work/big12mp.jpg" -o "$work/big_out.png" 2> "$work/ours_big.time" > /dev/null
mkdir -p "$work/batch100"
ls "$sets/humanseg_removebg290/images" | sort | head -100 | while read -r f; do cp "$sets/humanseg_removebg290/images/$f" "$work/batch100/"; done
/usr/bin/time -v "$bin" clean "$work/batch100" --out-dir "$work/batch100_out" --json > "$work/ours_batch.jsonl" 2> "$work/ours_batch.time" || true
echo "bench/clean: load at end $(load)"

"$py" "$root/bench/clean/report.py" --work "$work" --root "$root" --bin "$bin" --skip-peer "$skip_peer" --load-start "$load_start"
