# Sourced by bench/batch/run.sh and serve.sh: the batch inputs from a dev set, never stored in
# the repository. make_batch_inputs N WORK SET_DIR writes WORK/photos/R1..RN (symlinks to the
# set's photos, repeated when N is larger than the set), WORK/roster.csv naming them (one
# organization, "Bench") and WORK/photos.zip (the same files under photos/); sets `sources`
# (the distinct photos) and `zip_mib`.
make_batch_inputs() {
  local n=$1 work=$2 set_dir=$3 i src
  mapfile -t sources < <(find "$set_dir" -maxdepth 1 -type f \( -name '*.jpg' -o -name '*.png' \) | sort)
  [ ${#sources[@]} -gt 0 ] || { echo "bench/batch: no photos in $set_dir" >&2; exit 1; }
  mkdir -p "$work/photos"
  printf 'fullName,idNumber,organization\n' > "$work/roster.csv"
  for i in $(seq 1 "$n"); do
    src=${sources[$(( (i - 1) % ${#sources[@]} ))]}
    ln -s "$src" "$work/photos/R$i.${src##*.}"
    printf 'Person %d,R%d,Bench\n' "$i" "$i" >> "$work/roster.csv"
  done
  /usr/bin/python3 - "$work/photos" "$work/photos.zip" <<'PY'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
    for name in sorted(os.listdir(src)):
        z.write(os.path.join(src, name), "photos/" + name)
PY
  zip_mib=$(du -m "$work/photos.zip" | cut -f1)
}
