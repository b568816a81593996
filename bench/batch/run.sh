#!/usr/bin/env bash
# idphoto batch on N photos (default 200) of the eg1800 dev set (repeated when N is larger
# than the set), packed into a ZIP with a roster naming them R1..RN: wall time, photos per
# minute, peak RSS, rows done/failed. Side by side, the same photos through `idphoto clean`
# (one process, one cleaner, the same options) as the peer, so the batch path's overhead is a
# ratio measured under the same machine load.
# The photos are symlinked (folder) or stored (ZIP) in a temp dir, never in the repository.
#
# usage: bench/batch/run.sh IDPHOTO_BIN [N] [--no-peer]
# Needs: the models (make models), /usr/bin/python3 (zipfile), /usr/bin/time, the eval sets in
# ../shared/eval (or $IDPHOTO_EVAL_DIR: from a worktree, IDPHOTO_EVAL_DIR=/work/shared/eval).
# The server's batch route (POST /api/batches, kill -9 + restart): bench/batch/serve.sh.
set -euo pipefail
bin=$(realpath "$1")
n=${2:-200}
peer=1
[ "${3:-}" = "--no-peer" ] && peer=0
root=$(cd "$(dirname "$0")/../.." && pwd)
set_dir="${IDPHOTO_EVAL_DIR:-$root/../shared/eval}/sets/eg1800_test257/images"
[ -d "$set_dir" ] || { echo "bench/batch: no $set_dir" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/idphoto-bench-batch.XXXXXX")
trap 'rm -rf "$work"' EXIT
export IDPHOTO_MODELS_DIR="$root/models"
. "$root/bench/batch/make_inputs.sh"
make_batch_inputs "$n" "$work" "$set_dir"
opts=(--model-size 384)
echo "bench/batch: $n photos (${#sources[@]} distinct, eg1800_test257), ZIP ${zip_mib} MiB, $(nproc) cores, load at start $(cut -d' ' -f1-3 /proc/loadavg)"

# measure NAME CMD...: wall seconds and peak RSS (KiB) of CMD into $work/NAME.time
measure() {
  local name=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$work/$name.rss" "$@" > "$work/$name.out" 2> "$work/$name.err" || true
  t1=$(date +%s.%N)
  echo "$t0 $t1 $(tail -n 1 "$work/$name.rss")" > "$work/$name.time"
}

measure batch "$bin" batch "$work/roster.csv" "$work/photos.zip" --out-dir "$work/out" "${opts[@]}"
tail -n 1 "$work/batch.err"
if [ "$peer" = 1 ]; then
  measure clean "$bin" clean "$work/photos" --out-dir "$work/clean-out" "${opts[@]}"
  tail -n 1 "$work/clean.err"
fi

/usr/bin/python3 - "$work" "$n" "$peer" <<'PY'
import csv, os, sys
work, n, peer = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
def timing(name):
    t0, t1, rss = open(os.path.join(work, name + ".time")).read().split()
    return float(t1) - float(t0), int(rss) / 1024
rows = list(csv.DictReader(open(os.path.join(work, "out", "export.csv"), newline="")))
status = {}
for r in rows:
    status[r["status"]] = status.get(r["status"], 0) + 1
wall, rss = timing("batch")
print("| run | photos | wall s | photos/min | peak RSS MiB | rows done / failed / skipped |")
print("|---|---:|---:|---:|---:|---|")
print(f"| idphoto batch (ZIP) | {n} | {wall:.1f} | {60 * n / wall:.1f} | {rss:.0f} | "
      f"{status.get('done', 0)} / {status.get('failed', 0)} / {status.get('skipped', 0)} |")
if peer:
    cwall, crss = timing("clean")
    done = len([f for f in os.listdir(os.path.join(work, "clean-out")) if not f.startswith(".")])
    print(f"| idphoto clean (folder, peer) | {n} | {cwall:.1f} | {60 * n / cwall:.1f} | {crss:.0f} | {done} written |")
    print(f"batch / clean wall-time ratio: {wall / cwall:.3f}; peak RSS ratio: {rss / crss:.3f}")
PY
echo "bench/batch: load at end $(cut -d' ' -f1-3 /proc/loadavg)"
