#!/usr/bin/env bash
# idphoto serve under load: CLIENTS concurrent clients create a card and upload a photo
# in a loop for SECONDS; reports throughput, p50/p99 upload latency, each status's count,
# peak server RSS, and checks that every accepted upload is on its card (nothing lost).
# Default workers (1) and queue (4), SQLite + local store in a temp dir.
#
# usage: bench/serve/run.sh IDPHOTO_BIN [CLIENTS] [SECONDS]     (defaults: 6 clients, 60 s)
# Needs: the models (make models), /usr/bin/python3, ../shared/eval/sets (photos).
set -euo pipefail
bin=$(realpath "$1")
clients=${2:-6}
seconds=${3:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
photos="$root/../shared/eval/sets/fasseg_frontal02/images"
source "$root/bench/serve/start_server.sh"
start_server "$bin" serve
token=$("$bin" token --sub bench --ttl 1h)
echo "bench/serve: $clients clients, ${seconds}s, load at start $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 "$root/bench/serve/load.py" "http://127.0.0.1:$port" "$token" "$photos" \
  --clients "$clients" --seconds "$seconds" > "$work/load.json"
hwm_kb=$(awk '/VmHWM/{print $2}' /proc/$server/status)
rows=$(/usr/bin/python3 - "$work/data" <<'PY'
import glob, sqlite3, sys
db = glob.glob(sys.argv[1] + "/**/*.db", recursive=True)[0]
c = sqlite3.connect(db)
print(c.execute("select count(*), sum(status='clean'), sum(status='failed'), sum(status='processing') from id_cards").fetchone())
PY
)
/usr/bin/python3 - "$work/load.json" "$hwm_kb" "$rows" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); hwm = int(sys.argv[2]) / 1024; rows = sys.argv[3]
print(json.dumps(r))
print(f"peak server RSS: {hwm:.0f} MiB; database rows (cards, clean, failed, processing): {rows}")
print(f"| clients | s | uploads ok | per min | p50 s | p99 s | statuses | peak RSS MiB | accepted but missing |")
print(f"|---:|---:|---:|---:|---:|---:|---|---:|---:|")
print(f"| {r['clients']} | {r['seconds']} | {r['uploads_ok']} | {r['throughput_per_min']} | {r['p50_s']} | {r['p99_s']} | "
      f"{', '.join(f'{k}: {v}' for k, v in sorted(r['statuses'].items()))} | {hwm:.0f} | {r['accepted_missing_on_card']} |")
PY
echo "bench/serve: load at end $(cut -d' ' -f1-3 /proc/loadavg)"
