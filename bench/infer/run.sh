#!/usr/bin/env bash
# Benchmark ISNet fp16 inference, ours (`idphoto infer`, oneDNN, streamed and resident weights) vs
# ONNX Runtime at 512/640/768/1024: median time and peak RSS, written to docs/performance.md.
#
# Usage: bench/infer/run.sh [--sizes "512 640 768 1024"] [--threads 2] [--warmup 1] [--repeat 5]
#                           [--idphoto PATH] [--no-fp32] [--no-docs]
#   --repeat     timed rounds (default 5); --warmup: untimed runs before each timed one (default 1)
#   --idphoto    default: $IDPHOTO, else build/release/src/cli/idphoto, else build/release/idphoto
#   --no-fp32    skip the context run of ORT on an fp32-widened copy of the model
#   --no-docs    print the section, do not touch docs/performance.md
# Needs: a release build of idphoto, models/ (scripts/fetch-models), onnxruntime-node
# (scripts/setup-test-npm), /usr/bin/time (apt: time), /usr/bin/python3 with python3-onnx,
# python3-numpy, python3-pil, python3-skimage.
#
# Method: every measurement is its own process. Time: `--repeat` rounds; in each round every
# implementation runs in a fresh process that loads the model, does `--warmup` untimed runs
# and one timed run; the implementations alternate within a round, so that load from other
# work on the machine hits them alike. The median (and min-max) over rounds is reported;
# loading and planning are excluded (ours reports plan_ms apart, ORT's load_ms is outside
# run_ms). Memory: one more process per implementation and size loads the model and runs it
# once under `/usr/bin/time -v`; its maximum resident set size is the peak RSS (for ORT it
# includes node itself, ~40 MB).
# Raw JSON of every run is kept in out/bench/infer/<timestamp>/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/bench/infer"
cmdline="bench/infer/run.sh${*:+ $*}"

sizes="512 640 768 1024"
threads=2
warmup=1
repeat=5
idphoto=${IDPHOTO:-}
fp32=1
docs=1
while [ $# -gt 0 ]; do
  case $1 in
    --sizes) sizes=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --idphoto) idphoto=$2; shift 2 ;;
    --no-fp32) fp32=0; shift ;;
    --no-docs) docs=0; shift ;;
    -h|--help) sed -n '4,12p' "$0"; exit 0 ;;
    *) echo "bench/infer: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

die() { echo "bench/infer: $*" >&2; exit 1; }

model="$root/models/isnet-general-fp16.onnx"
py=/usr/bin/python3
if [ -z "$idphoto" ]; then
  for c in "$root/build/release/src/cli/idphoto" "$root/build/release/idphoto"; do
    [ -x "$c" ] && { idphoto=$c; break; }
  done
fi
[ -n "$idphoto" ] && [ -x "$idphoto" ] ||
  die "idphoto not found (cmake --preset release && cmake --build --preset release, or --idphoto PATH)"
[ -f "$model" ] || die "$model missing (run scripts/fetch-models)"
[ -x /usr/bin/time ] || die "/usr/bin/time missing (apt-get install time)"
node -e "require('$root/tests/npm/node_modules/onnxruntime-node')" 2>/dev/null ||
  die "onnxruntime-node not installed (run scripts/setup-test-npm)"
"$py" -c 'import onnx, numpy, PIL' 2>/dev/null ||
  die "$py cannot import onnx, numpy, PIL (apt-get install python3-onnx python3-numpy python3-pil)"

# Other work on the machine distorts every number here; it is recorded, and warned about.
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${load_start%% *}" 'BEGIN { exit !(l > 0.5) }'; then
  echo "bench/infer: warning: load average $load_start before starting; the timings will be noisy" >&2
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$root/out/bench/infer/$stamp"
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/idphoto-bench-infer.XXXXXX")
trap 'rm -rf "$work"' EXIT
results="$out/results.jsonl"
: >"$results"

# json_field FILE EXPR: evaluate a Python expression over the last JSON line `j` of FILE.
json_field() {
  "$py" -c 'import json,sys; j=json.loads([l for l in open(sys.argv[1]) if l.strip()][-1]); print(eval(sys.argv[2]))' "$1" "$2"
}

# peak_rss_bytes TIMEFILE: "Maximum resident set size (kbytes)" of /usr/bin/time -v, in bytes.
peak_rss_bytes() {
  local kb
  kb=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$1")
  [ -n "$kb" ] || die "no maximum RSS in $1"
  echo $((kb * 1024))
}

# set_cmd IMPL WEIGHTS: CMD = the command line of one implementation at the current size
# (without --repeat), reading $in and writing to $work.
set_cmd() {
  case $1 in
    ours) CMD=("$idphoto" infer --model "$model" --input "$in" --shape "$shape" --output "$work/ours.f32"
               --output-name output --backend onednn --threads "$threads" --weights "$2") ;;
    ort) CMD=(node "$root/tests/model/ort_run.js" "$ort_model" "$in" "$shape" "$work/ort.f32" --threads "$threads") ;;
    ort_fp32) CMD=(node "$root/tests/model/ort_run.js" "$fp32_model" "$in" "$shape" "$work/ort.f32"
                   --threads "$threads") ;;
  esac
}

impls=("ours streamed" "ours resident" "ort -")
[ "$fp32" = 1 ] && impls+=("ort_fp32 -")

for s in $sizes; do
  in=$("$py" "$root/tests/model/make_inputs.py" "$work" "$s" astronaut)
  shape="1,3,$s,$s"
  ort_model=$model
  if [ "$s" != 1024 ]; then
    ort_model="$work/isnet_$s.onnx"
    "$py" "$root/tests/model/retarget_resize.py" "$model" "$ort_model" "$s" >&2
  fi
  fp32_model="$work/isnet_fp32_$s.onnx"
  [ "$fp32" = 1 ] && "$py" "$here/widen_fp16.py" "$ort_model" "$fp32_model" >&2

  # Time: rounds; in each, every implementation in a fresh process (warm-up runs, then one
  # timed run), one after the other, so that load from elsewhere hits all of them alike.
  for round in $(seq 1 "$repeat"); do
    for spec in "${impls[@]}"; do
      read -r impl weights <<<"$spec"
      tag=$impl; [ "$weights" = - ] || tag+="_$weights"; tag+="_$s"
      set_cmd "$impl" "$weights"
      "${CMD[@]}" --repeat $((warmup + 1)) >"$out/$tag.r$round.json" 2>"$out/$tag.r$round.err" ||
        die "$tag failed: $(tail -n 3 "$out/$tag.r$round.err")"
      echo "bench/infer: $tag round $round: $(json_field "$out/$tag.r$round.json" "j['run_ms'][-1]") ms" >&2
    done
  done

  # Memory: one more process per implementation that loads the model and runs it once.
  for spec in "${impls[@]}"; do
    read -r impl weights <<<"$spec"
    tag=$impl; [ "$weights" = - ] || tag+="_$weights"; tag+="_$s"
    set_cmd "$impl" "$weights"
    /usr/bin/time -v -o "$out/$tag.rss.time" "${CMD[@]}" --repeat 1 >"$out/$tag.rss.json" 2>"$out/$tag.rss.err" ||
      die "$tag (RSS run) failed: $(tail -n 3 "$out/$tag.rss.err")"
    rss=$(peak_rss_bytes "$out/$tag.rss.time")
    run_ms=$(for round in $(seq 1 "$repeat"); do json_field "$out/$tag.r$round.json" "j['run_ms'][-1]"; done |
             paste -sd, -)
    printf '{"impl":"%s","weights":"%s","size":%d,"run_ms":[%s],"peak_rss_bytes":%d}\n' \
      "$impl" "$weights" "$s" "$run_ms" "$rss" >>"$results"
    echo "bench/infer: $tag: run_ms [$run_ms], peak RSS $((rss / 1048576)) MB" >&2
  done
  rm -f "$fp32_model"
  [ "$ort_model" = "$model" ] || rm -f "$ort_model"
done

cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
cpu="$cpu, $(nproc) logical CPUs"
dnnl=$(dpkg-query -W -f='${Version}' libdnnl2 2>/dev/null || echo unknown)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "no commit")
versions="idphoto $commit ($(basename "$(dirname "$idphoto")")/$(basename "$idphoto")), oneDNN (Debian libdnnl2) $dnnl, onnxruntime-node 1.20.1, node $(node --version)"
doc_args=()
[ "$docs" = 1 ] && doc_args=(--update "$root/docs/performance.md")
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
"$py" "$here/report.py" "$results" --command "$cmdline" --cpu "$cpu" --threads "$threads" \
  --warmup "$warmup" --versions "$versions" --load "$load_start / $load_end" "${doc_args[@]}" |
  tee "$out/section.md"
echo "bench/infer: raw results in ${out#$root/}" >&2
