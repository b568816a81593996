#!/usr/bin/env bash
# idphoto serve under slow clients (issue 14 row 1): SLOW sockets trickling headers while
# /healthz is timed for SECONDS, then a 5 s keep-alive /healthz throughput run; prints the JSON
# of bench/serve/slow.py plus the server's peak RSS. Default settings otherwise.
#
# usage: bench/serve/slow.sh IDPHOTO_BIN [SLOW] [SECONDS]     (defaults: 60 sockets, 30 s)
set -euo pipefail
bin=$(realpath "$1")
n_slow=${2:-60}
seconds=${3:-30}
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/bench/serve/start_server.sh"
start_server "$bin" slow
/usr/bin/python3 "$root/bench/serve/slow.py" 127.0.0.1 "$port" --slow "$n_slow" --seconds "$seconds" > "$work/slow.json"
hwm_kb=$(awk '/VmHWM/{print $2}' /proc/$server/status)
cat "$work/slow.json"
echo "server peak RSS: $((hwm_kb / 1024)) MiB"
