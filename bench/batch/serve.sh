#!/usr/bin/env bash
# The server's batch route: N photos (default 200) of the eg1800 dev set in one
# POST /api/batches (roster + ZIP, framed to the default card spec), run to the end. Measures
# wall time from the POST's answer to `done`, photos per minute and the server's peak RSS
# (VmHWM), side by side with `idphoto batch` offline on the same inputs and settings (the same
# engine without HTTP, jobs or database: the reference the job path's overhead is a ratio of).
# Then the same batch on a new server that is killed (SIGKILL) once a third of its jobs are done
# and restarted on the same data: seconds from the restart to `done`, records missing (done
# jobs whose card has no clean photo file) and effects committed twice (clean files no card
# names: a job's clean photo is named by the job, so a second commit of one would leave one).
#
# usage: bench/batch/serve.sh IDPHOTO_BIN [N]
# Needs: the models (make models), python3, curl, the eval sets in ../shared/eval (or
# $IDPHOTO_EVAL_DIR). Loopback only. The lease is the default (IDPHOTO_JOB_LEASE_MS, 30 s): the
# restart waits for the killed process's leases to run out, as a real one would.
set -euo pipefail
bin=$(realpath "$1")
n=${2:-200}
root=$(cd "$(dirname "$0")/../.." && pwd)
set_dir="${IDPHOTO_EVAL_DIR:-$root/../shared/eval}/sets/eg1800_test257/images"
[ -d "$set_dir" ] || { echo "bench/batch: no $set_dir" >&2; exit 1; }
inputs=$(mktemp -d "${TMPDIR:-/tmp}/idphoto-bench-batch-in.XXXXXX")
. "$root/bench/batch/make_inputs.sh"
make_batch_inputs "$n" "$inputs" "$set_dir"
. "$root/bench/serve/start_server.sh"
export IDPHOTO_MAX_BATCH_ROWS=$((n + 10))
echo "bench/batch/serve: $n photos (${#sources[@]} distinct, eg1800_test257), ZIP ${zip_mib} MiB, $(nproc) cores, load at start $(cut -d' ' -f1-3 /proc/loadavg)"

token() { JWT_SECRET=$JWT_SECRET "$bin" token --sub bench --ttl 2h; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

# 1. one server, the whole batch
start_server "$bin" batch-serve
tok=$(token)
python3 "$root/bench/batch/serve.py" "http://127.0.0.1:$port" "$tok" "$inputs/roster.csv" "$inputs/photos.zip" "$inputs/run1.json"
run1_hwm=$(hwm_kib "$server")
kill "$server"; wait "$server" 2>/dev/null || true
rm -rf "$work"

# 2. the reference: idphoto batch offline, same inputs, same spec (card) and model settings
t0=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$inputs/offline.rss" "$bin" batch "$inputs/roster.csv" "$inputs/photos.zip" \
  --out-dir "$inputs/offline-out" --spec card > /dev/null 2> "$inputs/offline.err" || true
t1=$(date +%s.%N)
echo "$t0 $t1" > "$inputs/offline.time"

# 3. killed once a third is done, restarted on the same data
start_server "$bin" batch-kill
tok=$(token)
python3 "$root/bench/batch/serve.py" "http://127.0.0.1:$port" "$tok" "$inputs/roster.csv" "$inputs/photos.zip" \
  "$inputs/run2.json" --kill-at-done $((n / 3)) --pid "$server"
wait "$server" 2>/dev/null || true
t_restart=$(date +%s.%N)
"$bin" serve >> "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:$port/readyz" > /dev/null 2>&1 && break; sleep 0.2; done
bid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["batch"])' "$inputs/run2.json")
python3 "$root/bench/batch/serve.py" "http://127.0.0.1:$port" "$tok" --check "$bid" "$IDPHOTO_DATA_DIR" "$inputs/check.json"
t_done=$(date +%s.%N)

python3 - "$inputs" "$n" "$run1_hwm" "$t_restart" "$t_done" <<'PY'
import json, os, sys
d, n, hwm, t_restart, t_done = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
r1 = json.load(open(os.path.join(d, "run1.json")))
chk = json.load(open(os.path.join(d, "check.json")))
t0, t1 = map(float, open(os.path.join(d, "offline.time")).read().split())
off_rss = int(open(os.path.join(d, "offline.rss")).read().split()[-1]) / 1024
off_wall = t1 - t0
c = r1["counts"]
print("| run | photos | wall s | photos/min | peak RSS MiB | done / failed / dead | problems |")
print("|---|---:|---:|---:|---:|---|---:|")
print(f"| POST /api/batches (server, jobs) | {n} | {r1['seconds_to_done']:.1f} | {60 * n / r1['seconds_to_done']:.1f} | "
      f"{hwm / 1024:.0f} | {c['done']} / {c['failed']} / {c['dead']} | {r1['problems']} |")
print(f"| idphoto batch (offline, reference) | {n} | {off_wall:.1f} | {60 * n / off_wall:.1f} | {off_rss:.0f} | | |")
print(f"server / offline wall-time ratio: {r1['seconds_to_done'] / off_wall:.3f}; peak RSS ratio: {hwm / 1024 / off_rss:.3f}")
k = chk["counts"]
print(f"kill -9 at {n // 3} done, restart: {t_done - t_restart:.1f} s from the restart to done; "
      f"done / failed / dead {k['done']} / {k['failed']} / {k['dead']}; records missing {chk['records_missing']}; "
      f"effects committed twice (clean files no card names) {chk['clean_files_no_card_names']}; "
      f"clean files {chk['clean_files']} for {chk['done_jobs']} done jobs; raw files {chk['raw_files']} for {chk['jobs']} jobs")
PY
rm -rf "$inputs"
echo "bench/batch/serve: load at end $(cut -d' ' -f1-3 /proc/loadavg)"
