#!/usr/bin/env bash
# idphoto serve soaked: MINUTES of mixed traffic (uploads, fetch-and-clean from a loopback photo
# server, card PDFs, SLOW slow connections, oversized and corrupt requests; bench/soak/soak.py),
# then server RSS over time (first vs last 5 minutes), /healthz latency under the slow clients,
# every status's count, and the database against the store (every record's files exist; files
# nobody references). Default settings (SQLite + local store in a temp dir); the fetch allow-list
# admits 127.0.0.1 only, for the script's own photo server.
#
# usage: bench/soak/run.sh IDPHOTO_BIN [MINUTES] [SLOW]      (defaults: 30 minutes, 200 slow)
# Needs: the models (make models), /usr/bin/python3, ../shared/eval/sets (photos).
set -euo pipefail
bin=$(realpath "$1")
minutes=${2:-30}
slow=${3:-200}
root=$(cd "$(dirname "$0")/../.." && pwd)
photos="$root/../shared/eval/sets/fasseg_frontal02/images"
export IDPHOTO_FETCH_ALLOW=127.0.0.1
ulimit -n 4096
source "$root/bench/serve/start_server.sh"
start_server "$bin" soak
token=$("$bin" token --sub soak --ttl 2h)
echo "bench/soak: $minutes min, $slow slow clients, $("$bin" --version 2>/dev/null | head -1), load at start $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 "$root/bench/soak/soak.py" "http://127.0.0.1:$port" "$token" "$photos" "$server" "$work/data" \
  --minutes "$minutes" --slow "$slow" > "$work/soak.json"
kill -0 $server 2>/dev/null && alive=yes || alive=no
hwm_kb=$(awk '/VmHWM/{print $2}' /proc/$server/status 2>/dev/null || echo 0)
/usr/bin/python3 - "$work/soak.json" "$hwm_kb" "$alive" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); hwm = int(sys.argv[2]) / 1024; alive = sys.argv[3]
print(json.dumps(r, indent=1))
h, m, s = r["healthz"], r["rss_mib"], r["store"]
print(f"server alive at the end: {alive}; peak RSS (VmHWM) {hwm:.0f} MiB")
print("| minutes | slow | /healthz probes | failed | p50 ms | p99 ms | RSS first 5 min | RSS last 5 min | peak RSS | cards | files missing | unreferenced files | clean cards lost |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
print(f"| {r['minutes']:g} | {r['slow_clients']} | {h['probes']} | {h['failed']} | {h['p50_ms']} | {h['p99_ms']} | "
      f"{m['first_window_mean']} | {m['last_window_mean']} | {hwm:.0f} | {s['cards']} | {len(s['referenced_missing'])} | "
      f"{s['unreferenced']} | {len(s['clean_cards_lost'])} |")
PY
echo "bench/soak: server log lines $(wc -l < "$work/server.log"), load at end $(cut -d' ' -f1-3 /proc/loadavg)"
