#!/usr/bin/env bash
# idphoto clean against the peer (@imgly/background-removal-node 1.4.5, model medium), set by
# set: quality on the three portrait dev sets and on humanseg (agreement with remove.bg), the
# worst photos, time per photo, peak RSS on 12-MP JPEGs (4:2:0 and 4:4:4), RSS over a batch.
# Writes the "## Clean (bench/clean)" section of docs/performance.md.
#
# usage: bench/clean/run.sh IDPHOTO_BIN [--skip-peer] [--sets "S1 S2 ..."]
#   --skip-peer  reuse the peer's stored results (bench/clean/results/*.json) instead of
#                running it again (eg1800 alone takes ~30 min on a quiet machine); the section
#                then says so and gives each stored result's date
#   --sets       which sets (default: fasseg_frontal02 eg1800_test257 aisegment_soft20
#                humanseg_removebg290)
# Needs: bench/npm/setup (peer), /usr/bin/time, /usr/bin/python3 with numpy + PIL.
# Nothing derived from the eval sets is written into the repo but numbers and photo ids.
set -euo pipefail
bin=$(realpath "$1"); shift
skip_peer=0
sets_list="fasseg_frontal02 eg1800_test257 aisegment_soft20 humanseg_removebg290"
while [ $# -gt 0 ]; do
  case $1 in
    --skip-peer) skip_peer=1; shift ;;
    --sets) sets_list=$2; shift 2 ;;
    *) echo "bench/clean/run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/bench/clean/shared_dir.sh"
sets="$shared/eval/sets"
score="$shared/eval/score.py"
py=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/idphoto-bench-clean.XXXXXX")
trap 'rm -rf "$work"' EXIT
[ -n "${IDPHOTO_KEEP_TMP:-}" ] && trap - EXIT  # keep the work dir for a look
export IDPHOTO_MODELS_DIR="$root/models"
load() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(load)
echo "bench/clean: load at start $load_start"

# 1. Quality and time per photo: final alpha (--mask) at default settings, one set at a time;
# the peer on the same set right after (its stored result with --skip-peer).
for set in $sets_list; do
  echo "bench/clean: ours on $set"
  out="$work/ours_$set"
  "$bin" clean "$sets/$set/images" --mask --out-dir "$out" --json > "$work/ours_$set.jsonl" 2>> "$work/ours_$set.log" || true
  "$py" "$score" "$sets/$set/masks" "$out" --json "$work/ours_$set.json" | tail -1 | cut -c1-200
  if [ $skip_peer -eq 0 ]; then
    echo "bench/clean: peer on $set"
    "$root/bench/clean/run_peer_quality.sh" "$set" > "$work/peer_quality_$set.log" 2>&1
  fi
done

# 2. Speed: end to end per photo (read, decode, infer, refine, encode, write) on the 20 fasseg
# photos the peer's speed run uses, and the peer's speed run itself.
mkdir -p "$work/speed20"
ls "$sets/fasseg_frontal02/images" | sort | head -20 | while read -r f; do cp "$sets/fasseg_frontal02/images/$f" "$work/speed20/"; done
"$bin" clean "$work/speed20" --out-dir "$work/speed20_out" --json > "$work/ours_speed.jsonl" 2> /dev/null
if [ $skip_peer -eq 0 ]; then
  echo "bench/clean: peer speed"
  "$root/bench/clean/peer_speed.sh" --n 20 > "$work/peer_speed.log" 2>&1
fi

# 3. Memory: 12-MP JPEGs (3000x4000) made from a dev-set photo of each kind — a selfie from
# eg1800 (the size rule runs it at the large size) and a tight face from fasseg (the small
# size) — each in 4:2:0 and 4:4:4 chroma; then RSS along a batch of 100 humanseg photos.
"$py" - "$sets" "$work" <<'PY'
import sys
from PIL import Image
sets, work = sys.argv[1:3]
for tag, path in (("selfie", f"{sets}/eg1800_test257/images/00002.jpg"), ("face", f"{sets}/fasseg_frontal02/images/test_1.png")):
    im = Image.open(path).convert("RGB").resize((3000, 4000), Image.BICUBIC)
    im.save(f"{work}/big_{tag}_420.jpg", quality=92, subsampling=2)
    im.save(f"{work}/big_{tag}_444.jpg", quality=92, subsampling=0)
PY
for tag in selfie_420 selfie_444 face_420 face_444; do
  /usr/bin/time -v "$bin" clean "$work/big_$tag.jpg" -o "$work/big_$tag.png" --json > "$work/ours_big_$tag.jsonl" 2> "$work/ours_big_$tag.time"
done
mkdir -p "$work/batch100"
ls "$sets/humanseg_removebg290/images" | sort | head -100 | while read -r f; do cp "$sets/humanseg_removebg290/images/$f" "$work/batch100/"; done
/usr/bin/time -v "$bin" clean "$work/batch100" --out-dir "$work/batch100_out" --json > "$work/ours_batch.jsonl" 2> "$work/ours_batch.time" || true
echo "bench/clean: load at end $(load)"

"$py" "$root/bench/clean/report.py" --work "$work" --root "$root" --bin "$bin" --skip-peer "$skip_peer" \
  --load-start "$load_start" --sets "$sets_list"
