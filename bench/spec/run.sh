#!/usr/bin/env bash
# Framing to a spec (idphoto clean --spec): landmark consistency and cost.
# - Consistency: every framed output is analysed again (idphoto faces: BlazeFace + FaceMesh
#   on the output itself) and its eye line is compared with the spec's target (the centre of the
#   eye band) and band; its tilt (the eye line's angle) should be ~0. Reported for all photos
#   and for those where the frame fits inside the photo (frame_filled passes): the goal is no
#   eye line outside the band there. Head height is read from our own report (the crown is the
#   mask's top, which the re-detection does not give), so it is not an independent check.
# - Cost: time per photo and peak RSS of `clean --spec` against plain `clean` on the same
#   photos, one process each (models loaded once), run one after the other in this run.
# Writes the "## Framing (bench/spec)" section of docs/performance.md and keeps the JSON lines
# in bench/spec/results/.
#
# usage: bench/spec/run.sh IDPHOTO_BIN [--no-docs] [--spec NAME]
# Needs: the models (scripts/fetch-models), /usr/bin/time, /usr/bin/python3, the sets in
# ../shared/eval (or IDPHOTO_EVAL_SETS=DIR).
set -euo pipefail
bin=$(realpath "$1")
shift
docs=1
spec=icao-35x45
while [ $# -gt 0 ]; do
  case "$1" in
    --no-docs) docs=0 ;;
    --spec) spec=$2; shift ;;
    *) echo "bench/spec: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
root=$(cd "$(dirname "$0")/../.." && pwd)
sets=${IDPHOTO_EVAL_SETS:-$root/../shared/eval/sets}  # read only
out="$root/bench/spec/results"
work=$(mktemp -d "${TMPDIR:-/tmp}/idphoto-bench-spec.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
[ -x /usr/bin/time ] || { echo "bench/spec: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
export IDPHOTO_MODELS_DIR="$root/models"
load() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(load)
echo "bench/spec: load at start $load_start" >&2

# Sets and how many photos of each: all of the small ones; eg1800 every 4th (65 of 257).
for set in fasseg_frontal02 aisegment_soft20 eg1800_test257 hivision_id_inputs_nogt; do
  [ -d "$sets/$set/images" ] || { echo "bench/spec: $sets/$set/images missing" >&2; exit 1; }
  mapfile -t photos < <(find "$sets/$set/images" -maxdepth 1 -type f | sort)
  if [ "$set" = eg1800_test257 ]; then
    mapfile -t photos < <(printf '%s\n' "${photos[@]}" | awk 'NR % 4 == 1')
  fi
  echo "bench/spec: $set: ${#photos[@]} photos, --spec $spec" >&2
  mkdir -p "$work/$set/spec" "$work/$set/plain"
  /usr/bin/time -f '%M' -o "$out/${set}_spec.rss" "$bin" clean --json --spec "$spec" --out-dir "$work/$set/spec" "${photos[@]}" \
    > "$out/${set}_spec.jsonl" 2> "$work/$set/spec.err" || true
  echo "bench/spec: $set: plain clean" >&2
  /usr/bin/time -f '%M' -o "$out/${set}_plain.rss" "$bin" clean --json --out-dir "$work/$set/plain" "${photos[@]}" \
    > "$out/${set}_plain.jsonl" 2> "$work/$set/plain.err" || true
  mapfile -t framed < <(find "$work/$set/spec" -maxdepth 1 -type f | sort)
  if [ "${#framed[@]}" -gt 0 ]; then
    "$bin" faces --json "${framed[@]}" > "$out/${set}_redetect.jsonl" || true
  else
    : > "$out/${set}_redetect.jsonl"
  fi
done
load_end=$(load)
echo "bench/spec: load at end $load_end" >&2

doc="$root/docs/performance.md"
[ "$docs" = 1 ] || doc=""
/usr/bin/python3 "$root/bench/spec/report.py" "$out" "$spec" "$load_start" "$load_end" "$("$bin" --version)" "$doc"
