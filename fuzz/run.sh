#!/usr/bin/env bash
# Runs each fuzz target of a fuzz build for SECONDS, one after the other (make fuzz).
# Usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]     (no TARGET: every target)
#
# Per target NAME (flags from fuzz/CMakeLists.txt, listed in BUILD_DIR/fuzz_targets.txt):
#   corpus dirs   BUILD_DIR/corpus/NAME (new inputs go there; kept between runs), then the
#                 committed seeds fuzz/corpus/NAME and fuzz/regressions/NAME (read only)
#   crashes       BUILD_DIR/artifacts/NAME/crash-… (also leak-, timeout-, oom-)
#   log           BUILD_DIR/logs/NAME.log
# Prints one line per target: executions, exec/s, cov and ft (libFuzzer's coverage counters at
# the end of the run), corpus size, artifacts; also written to BUILD_DIR/fuzz-summary.txt.
# Exits 1 when any target left an artifact (see fuzz/README.md: turning one into a regression).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2; exit 2; }
build=$(cd "$1" && pwd)
seconds=$2
shift 2
list="$build/fuzz_targets.txt"
[ -f "$list" ] || { echo "fuzz/run.sh: no $list (cmake --preset fuzz && cmake --build --preset fuzz)" >&2; exit 2; }
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz/run.sh: SECONDS must be a positive integer, got '$seconds'" >&2; exit 2; }

summary="$build/fuzz-summary.txt"
printf '%-14s %12s %8s %7s %7s %8s %10s  %s\n' target executions exec/s cov ft corpus artifacts seconds | tee "$summary"
failed=0
ran=0
while read -r name bin flags; do
  [ -n "$name" ] || continue
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  ran=$((ran + 1))
  work="$build/corpus/$name"
  art="$build/artifacts/$name"
  log="$build/logs/$name.log"
  mkdir -p "$work" "$art" "$build/logs"
  dirs=("$work" "$root/fuzz/corpus/$name")
  [ -d "$root/fuzz/regressions/$name" ] && dirs+=("$root/fuzz/regressions/$name")
  before=$(find "$art" -type f | wc -l)
  # shellcheck disable=SC2086  # flags are separate words
  UBSAN_OPTIONS=print_stacktrace=1 ASAN_OPTIONS=${ASAN_OPTIONS:-} \
    "$bin" $flags -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$art/" "${dirs[@]}" \
    >"$log" 2>&1
  rc=$?
  last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -n 1)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$last")
  execs=$(sed -nE 's/^stat::number_of_executed_units: ([0-9]+)/\1/p' "$log")
  eps=$(sed -nE 's/^stat::average_exec_per_sec: +([0-9]+)/\1/p' "$log")
  after=$(find "$art" -type f | wc -l)
  new=$((after - before))
  printf '%-14s %12s %8s %7s %7s %8s %10s  %s\n' "$name" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" \
    "${corp:-?}" "$new" "$seconds" | tee -a "$summary"
  if [ "$new" -gt 0 ] || [ "$rc" -ne 0 ]; then
    failed=1
    echo "  $name: exit $rc, $new new artifact(s) in $art; log $log" | tee -a "$summary"
    grep -m 3 -E 'ERROR: |runtime error:|fuzz check failed' "$log" | sed 's/^/    /' | tee -a "$summary"
  fi
done <"$list"
[ "$ran" -gt 0 ] || { echo "fuzz/run.sh: no target named $*" >&2; exit 2; }
exit "$failed"
