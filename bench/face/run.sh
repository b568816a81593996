#!/usr/bin/env bash
# Faces: BlazeFace + FaceMesh on our runtime against today's OpenCV Haar cascade (the detector
# of idphoto clean's person-only step), on the portrait sets: how many photos get exactly
# one face, none, more than one; time per photo of detection and of landmarks at 1 and 2
# threads; resident memory the two models add. Writes the "## Faces (bench/face)" section of
# docs/performance.md (and prints it), and keeps the raw JSON lines in bench/face/results/.
#
# usage: bench/face/run.sh IDPHOTO_BIN [--no-docs]
# Needs: the face models (scripts/fetch-models), /usr/bin/python3, the sets in ../shared/eval
# (or IDPHOTO_EVAL_SETS=DIR).
set -euo pipefail
bin=$(realpath "$1")
docs=1
[ "${2:-}" = "--no-docs" ] && docs=0
root=$(cd "$(dirname "$0")/../.." && pwd)
sets=${IDPHOTO_EVAL_SETS:-$root/../shared/eval/sets}  # the evaluation sets (read only)
out="$root/bench/face/results"
mkdir -p "$out"
export IDPHOTO_MODELS_DIR="$root/models"
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "bench/face: load at start $(load)" >&2

for set in eg1800_test257 fasseg_frontal02; do
  [ -d "$sets/$set/images" ] || { echo "bench/face: $sets/$set/images missing" >&2; exit 1; }
  mapfile -t photos < <(find "$sets/$set/images" -maxdepth 1 -type f | sort)
  for t in 1 2; do
    echo "bench/face: blazeface, $t thread(s), $set (${#photos[@]} photos)" >&2
    "$bin" faces --json --threads "$t" "${photos[@]}" > "$out/blazeface_t${t}_$set.jsonl"
  done
  echo "bench/face: haar, $set" >&2
  "$bin" faces --json --detector haar "${photos[@]}" > "$out/haar_$set.jsonl"
done
echo "bench/face: load at end $(load)" >&2

doc="$root/docs/performance.md"
[ "$docs" = 1 ] || doc=""
/usr/bin/python3 - "$out" "$(load)" "$("$bin" --version)" "$doc" <<'PY'
import json, os, re, statistics, sys
out, load_end, version, doc = sys.argv[1:5]
L = []
def print(line=""):  # collect the section's lines
    L.append(line)

def read(name):
    rows, summary = [], None
    for line in open(os.path.join(out, name)):
        j = json.loads(line)
        if j.get("summary"):
            summary = j
        else:
            rows.append(j)
    return rows, summary

def counts(rows, min_presence=None):
    ok = [r for r in rows if "error" not in r]
    if min_presence is None:
        n = [r["n_faces"] for r in ok]
    else:  # faces whose FaceMesh presence score is at least min_presence
        n = [sum(1 for f in r["faces"] if f.get("mesh_presence", 0) >= min_presence) for r in ok]
    return len(rows), n.count(1), n.count(0), sum(1 for k in n if k > 1), len(rows) - len(ok)

def med(xs):
    return statistics.median(xs) if xs else float("nan")

def p90(xs):
    xs = sorted(xs)
    return xs[int(0.9 * (len(xs) - 1))] if xs else float("nan")

print("## Faces (bench/face)")
print()
print(f"`bench/face/run.sh` ({version}): `idphoto faces` on every photo of two portrait sets, decoded as "
      "`idphoto clean` decodes them (upright sRGB, at most 1600 px a side; these photos are all at most 800 px, "
      "the output size person-only runs the cascade at), with our BlazeFace + FaceMesh and with the OpenCV "
      "Haar cascade that person-only uses today (`--detector haar`, the same pixels). "
      "Every photo of both sets shows one person, so \"exactly one face\" is the right answer (a second, "
      "real face may be in the background). Raw results: `bench/face/results/`.")
print()
print("| set | detector | photos | exactly one face | none | more than one |")
print("|---|---|---:|---:|---:|---:|")
for s in ("eg1800_test257", "fasseg_frontal02"):
    for det, f, presence in (("BlazeFace (ours)", f"blazeface_t1_{s}.jsonl", None),
                             ("BlazeFace, FaceMesh presence >= 0.5", f"blazeface_t1_{s}.jsonl", 0.5),
                             ("OpenCV Haar (today)", f"haar_{s}.jsonl", None)):
        rows, _ = read(f)
        total, one, none, many, err = counts(rows, presence)
        extra = f" ({err} unreadable)" if err else ""
        print(f"| {s} | {det} | {total}{extra} | {one} | {none} | {many} |")
print()
print("| set | run | detection ms / photo: CPU median (wall median, p90) | landmarks ms / face: CPU median (wall median) | RSS added by the models | peak RSS |")
print("|---|---|---|---|---:|---:|")
for s in ("eg1800_test257", "fasseg_frontal02"):
    for label, f in (("BlazeFace + FaceMesh, 1 thread", f"blazeface_t1_{s}.jsonl"),
                     ("BlazeFace + FaceMesh, 2 threads", f"blazeface_t2_{s}.jsonl"),
                     ("OpenCV Haar (its own threads)", f"haar_{s}.jsonl")):
        rows, sm = read(f)
        ok = [r for r in rows if "error" not in r]
        det = [r["detect_ms"] for r in ok]
        det_cpu = [r["detect_cpu_ms"] for r in ok]
        lm = [r["landmarks_ms"] / r["n_faces"] for r in ok if r["n_faces"] > 0 and r["landmarks_ms"] > 0]
        lm_cpu = [r["landmarks_cpu_ms"] / r["n_faces"] for r in ok if r["n_faces"] > 0 and r["landmarks_ms"] > 0]
        lm_text = f"{med(lm_cpu):.1f} ({med(lm):.1f})" if lm else "-"
        added = (sm["rss_after_models_bytes"] - sm["rss_before_models_bytes"]) / 2**20
        print(f"| {s} | {label} | {med(det_cpu):.1f} ({med(det):.1f}, {p90(det):.1f}) | {lm_text} | "
              f"{added:.1f} MiB | {sm['peak_rss_bytes'] / 2**20:.0f} MiB |")
print()
notes = {"00662.jpg": "a second person next to the subject", "00735.jpg": "a painted face behind the subject",
         "00016.jpg": "a false detection in the background"}
odd = []
for s in ("eg1800_test257", "fasseg_frontal02"):
    rows, _ = read(f"blazeface_t1_{s}.jsonl")
    for r in rows:
        if "error" in r or r["n_faces"] == 1:
            continue
        name = os.path.basename(r["photo"])
        faces = ", ".join(f"score {f['score']:.2f} presence {f.get('mesh_presence', float('nan')):.2f}" for f in r["faces"])
        odd.append(f"{s}/{name}: {r['n_faces']} faces ({faces or 'none'})" + (f" — by eye: {notes[name]}" if name in notes else ""))
print("Photos where BlazeFace does not find exactly one face: " + ("; ".join(odd) if odd else "none") + ". "
      "FaceMesh's presence score on each face's crop separates real faces from false detections, "
      "hence the second row per set.")
print()
print("Times: CPU time of the step (the whole process, all threads) and wall time; on a shared machine "
      "wall time includes waiting for a core, CPU time does not. Detection includes the anti-aliased "
      "letterbox resampling of the photo to 128 px. \"RSS added\": resident memory after the models are "
      "loaded, planned and run once, minus before; about a third of it is oneDNN's own code, which a "
      "process that already runs ISNet has paid. The Haar cascade uses OpenCV's threads (all cores).")
print()
print(f"Load average at the end of the run: {load_end} (2 cores, shared with other work).")
section = "\n".join(L) + "\n"
if doc:
    text = open(doc).read() if os.path.exists(doc) else "# Performance\n\n"
    pat = re.compile(r"## Faces \(bench/face\)\n.*?(?=\n## |\Z)", re.S)
    text = pat.sub(lambda m: section.rstrip("\n") + "\n", text) if pat.search(text) else text.rstrip("\n") + "\n\n" + section
    open(doc, "w").write(text)
sys.stdout.write(section)
PY
