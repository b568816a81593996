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
work=$(mktemp -d "${TMPDIR:-/tmp}/idphoto-bench-slow.XXXXXX")
port=$((20000 + RANDOM % 20000))
export PORT=$port IDPHOTO_BIND=127.0.0.1 IDPHOTO_DATA_DIR="$work/data" IDPHOTO_MODELS_DIR="$root/models"
export JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$bin" serve > "$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" > /dev/null 2>&1 && break
  sleep 0.2
done
/usr/bin/python3 "$root/bench/serve/slow.py" 127.0.0.1 "$port" --slow "$n_slow" --seconds "$seconds" > "$work/slow.json"
hwm_kb=$(awk '/VmHWM/{print $2}' /proc/$server/status)
cat "$work/slow.json"
echo "server peak RSS: $((hwm_kb / 1024)) MiB"
