#!/usr/bin/env bash
# Whole-model test: BlazeFace (models/blazeface-front-128.onnx) and FaceMesh
# (models/face-mesh-468.onnx, our conversion of the TFLite file) through our runtime
# (`idphoto infer`, both backends) must give ONNX Runtime's outputs on real photos.
#
# Usage: test_face_ort_oracle.sh [PATH/TO/idphoto]     (or IDPHOTO=... in the environment)
# Environment: IDPHOTO_MODELS (default <repo>/models), IDPHOTO_KEEP_TMP=1 keeps the work directory.
# Prerequisites (each missing one is a FAILURE, never a skip): the idphoto binary, both models
# (scripts/fetch-models), onnxruntime-node (scripts/setup-test-npm), node, /usr/bin/python3 with
# python3-numpy and python3-pil, and the photos of facedetect and python3-skimage.
#
# Inputs (make_face_inputs.py, PIL preprocessing): each portrait letterboxed to 128 for
# BlazeFace; a face crop, upright and turned 25 degrees, at 192 for FaceMesh. Every output
# of both models is compared: BlazeFace's two score heads (logits) and two box heads
# (offsets in input px), FaceMesh's 1404 landmark coordinates (crop px) and its presence logit.
#
# Tolerance: max |ours - ORT| <= 1e-5 * max |ORT| + 1e-5 per output tensor. Both runtimes
# compute in fp32 (FaceMesh's fp16 weights are widened exactly by the Cast nodes of our
# conversion, and BlazeFace's are fp32), so they differ only by summation order in ~40
# conv layers: measured max |ours - ORT| at most 1.2e-6 of max |ORT| over these 32
# comparisons, onednn and reference alike. 1e-5 leaves ~8x headroom; a real error (a pad on the wrong
# side, a wrong transpose, PRelu's slope on the wrong axis) changes the outputs by a large
# fraction of their range. The table this script prints gives the differences measured.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
idphoto=${1:-${IDPHOTO:-}}
models=${IDPHOTO_MODELS:-$root/models}
py=/usr/bin/python3
threads=2
rel_tol=1e-5
abs_tol=1e-5

fail_prereq() {
  echo "test_face_ort_oracle: FAIL: $*" >&2
  exit 1
}

[ -n "$idphoto" ] || fail_prereq "no idphoto binary given (argument 1 or IDPHOTO=...)"
[ -x "$idphoto" ] || fail_prereq "idphoto binary '$idphoto' missing or not executable (build it first)"
for m in blazeface-front-128.onnx face-mesh-468.onnx; do
  [ -f "$models/$m" ] || fail_prereq "model $models/$m missing (run scripts/fetch-models)"
done
command -v node >/dev/null || fail_prereq "node not found (apt-get install nodejs)"
[ -x "$py" ] || fail_prereq "$py not found (apt-get install python3)"
"$py" -c 'import numpy, PIL' 2>/dev/null || fail_prereq "$py cannot import numpy and PIL (apt-get install python3-numpy python3-pil)"
node -e "require('$root/tests/npm/node_modules/onnxruntime-node')" 2>/dev/null ||
  fail_prereq "onnxruntime-node not installed in tests/npm (run scripts/setup-test-npm)"

work=$(mktemp -d "${TMPDIR:-/tmp}/idphoto-face-oracle.XXXXXX")
if [ "${IDPHOTO_KEEP_TMP:-0}" = 1 ]; then
  echo "test_face_ort_oracle: work directory $work (kept)"
else
  trap 'rm -rf "$work"' EXIT
fi
"$py" "$here/make_face_inputs.py" "$work" >/dev/null || fail_prereq "make_face_inputs.py failed"

failures=0
rows=()
fail_case() {
  echo "test_face_ort_oracle: FAIL: $*" >&2
  failures=$((failures + 1))
}

# compare OURS ORT -> "max_abs max_ref n_values"; rc 1 on a size mismatch or non-finite values.
compare() {
  "$py" - "$1" "$2" <<'PY'
import sys
import numpy as np
a = np.fromfile(sys.argv[1], dtype="<f4").astype(np.float64)
b = np.fromfile(sys.argv[2], dtype="<f4").astype(np.float64)
if a.size != b.size or a.size == 0:
    sys.exit(f"ours has {a.size} values, ORT {b.size}")
for name, x in (("ours", a), ("ORT", b)):
    if not np.all(np.isfinite(x)):
        sys.exit(f"{name} has non-finite values")
print(f"{np.abs(a - b).max():.3e} {np.abs(b).max():.3e} {a.size}")
PY
}

# run_case MODEL INPUT_NAME SHAPE CASE OUTPUT_NAME...: every output, both backends.
run_case() {
  local model=$1 input_name=$2 shape=$3 name=$4
  shift 4
  local in="$work/$name.f32" out safe
  for out in "$@"; do
    safe=${out//[^A-Za-z0-9_]/_}
    local ort="$work/ort_${name}_$safe.f32"
    if ! node "$here/ort_run.js" "$models/$model" "$in" "$shape" "$ort" --threads "$threads" \
        --input-name "$input_name" --output-name "$out" >"$ort.json" 2>"$ort.err"; then
      fail_case "$name $out: ORT failed: $(tail -n 2 "$ort.err")"
      continue
    fi
    for backend in onednn reference; do
      local ours="$work/ours_${backend}_${name}_$safe.f32"
      if ! "$idphoto" infer --model "$models/$model" --input "$in" --shape "$shape" --output "$ours" \
          --output-name "$out" --backend "$backend" --threads "$threads" >"$ours.json" 2>"$ours.err"; then
        fail_case "$name $out $backend: idphoto infer failed: $(tail -n 2 "$ours.err")"
        rows+=("$name|$out|$backend|-|-|FAIL (idphoto error)")
        continue
      fi
      local stats
      if ! stats=$(compare "$ours" "$ort" 2>&1); then
        fail_case "$name $out $backend: $stats"
        rows+=("$name|$out|$backend|-|-|FAIL ($stats)")
        continue
      fi
      local max ref n status
      read -r max ref n <<<"$stats"
      if "$py" -c "import sys; sys.exit(0 if $max <= $rel_tol * $ref + $abs_tol else 1)"; then
        status=ok
      else
        status="FAIL (> $rel_tol x $ref + $abs_tol)"
        fail_case "$name $out $backend: max |ours - ORT| = $max"
      fi
      rows+=("$name|$out|$backend|$max|$ref|$status")
    done
  done
}

for photo in grace_hopper astronaut; do
  run_case blazeface-front-128.onnx "input:0" 1,128,128,3 "blazeface_$photo" \
    "Identity:0" "Identity_1:0" "Identity_2:0" "Identity_3:0"
  for crop in "mesh_$photo" "mesh_${photo}_turned"; do
    run_case face-mesh-468.onnx input_1 1,192,192,3 "$crop" conv2d_21 conv2d_31
  done
done

echo
echo "Face models, ours vs onnxruntime-node, threads $threads, tolerance max_abs <= $rel_tol x max|ORT| + $abs_tol"
printf '%-26s %-13s %-9s %11s %11s  %s\n' case output backend max_abs max_abs_ORT status
for r in "${rows[@]}"; do
  IFS='|' read -r name out backend max ref status <<<"$r"
  printf '%-26s %-13s %-9s %11s %11s  %s\n' "$name" "$out" "$backend" "$max" "$ref" "$status"
done
expected=$(( 2 * (4 + 2 * 2) * 2 ))
if [ "${#rows[@]}" -ne "$expected" ]; then
  fail_case "only ${#rows[@]} of $expected comparisons produced a result"
fi
if [ "$failures" -ne 0 ]; then
  echo "test_face_ort_oracle: $failures failure(s)" >&2
  exit 1
fi
echo "test_face_ort_oracle: all ${#rows[@]} comparisons within tolerance"
