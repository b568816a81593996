# Sourced by the serve benches (bench/serve/run.sh, slow.sh, bench/soak/run.sh): starts
# `idphoto serve` on a random loopback port with SQLite and the local store in a new temp dir
# and a random JWT secret, stops it and removes the dir on exit, and waits until /readyz answers.
# Extra settings come from the caller's environment (exported before sourcing).
#
# usage: start_server IDPHOTO_BIN NAME      sets: work (the temp dir), port, server (its pid)
start_server() {
  local bin=$1 name=$2 root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  work=$(mktemp -d "${TMPDIR:-/tmp}/idphoto-bench-$name.XXXXXX")
  port=$((20000 + RANDOM % 20000))
  export PORT=$port IDPHOTO_BIND=127.0.0.1 IDPHOTO_DATA_DIR="$work/data" IDPHOTO_MODELS_DIR="$root/models"
  JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  export JWT_SECRET
  "$bin" serve > "$work/server.log" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/readyz" > /dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "server did not get ready"
  cat "$work/server.log"
  exit 1
}
