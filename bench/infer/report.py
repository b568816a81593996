#!/usr/bin/python3
# Turn bench/infer measurements (JSON lines written by run.sh) into the markdown section
# "## Inference (bench/infer)" and, with --update, replace that section in docs/performance.md.
"""
Usage: report.py RESULTS.jsonl --command CMD --cpu CPU --threads N [--warmup N]
                 [--versions TEXT] [--load TEXT] [--date TEXT] [--update DOC.md]

Each line of RESULTS.jsonl: {"impl": "ours"|"ort"|"ort_fp32", "weights": "streamed"|
"resident"|"-", "size": S, "run_ms": [...timed repeats, warm-up already dropped...],
"peak_rss_bytes": N (from /usr/bin/time -v of a separate load+run-once process)}.
Prints the section; with --update also writes it into DOC.md, replacing only the
existing "## Inference (bench/infer)" section (up to the next "## " heading) or
appending it when absent.
"""
import argparse
import datetime
import json
import os
import statistics
import sys

HEADING = "## Inference (bench/infer)"


def load(path):
    rows = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                rows[(r["impl"], r["weights"], r["size"])] = r
    return rows


def mb(n):
    return n / (1024 * 1024)


def ms_cell(run_ms):
    """'median (min-max)' in whole milliseconds."""
    return f"{statistics.median(run_ms):.0f} ({min(run_ms):.0f}-{max(run_ms):.0f})"


def section(rows, args):
    sizes = sorted({k[2] for k in rows})
    out = [HEADING, ""]
    out.append("ISNet (`models/isnet-general-fp16.onnx`, fp16 weights) on the astronaut photo, "
               "squashed to S x S. Ours: `idphoto infer --backend onednn` with fp16 weights "
               "widened per layer (`streamed`) or once per plan (`resident`); ORT: "
               "onnxruntime-node 1.20.1 (CPU EP, graph optimisation `all`) on the same file "
               "(at S != 1024 on a copy with its baked Resize sizes rescaled by "
               "`tests/model/retarget_resize.py`, since ORT cannot re-plan them).")
    out.append("")
    out.append(f"- command: `{args.command}`")
    out.append(f"- date: {args.date}")
    out.append(f"- CPU: {args.cpu}")
    out.append(f"- threads: {args.threads} (ours `--threads {args.threads}`; ORT intraOpNumThreads "
               f"{args.threads}, interOpNumThreads 1)")
    if args.versions:
        out.append(f"- versions: {args.versions}")
    out.append(f"- time: median (min-max) over {args.repeats} rounds; in each round every implementation "
               f"runs in a fresh process: load, {args.warmup} warm-up run(s), 1 timed run; the "
               "implementations alternate within a round; model load and planning excluded")
    if args.load:
        out.append(f"- load average (1, 5, 15 min) at start / end: {args.load}")
    out.append("- peak RSS: `/usr/bin/time -v` maximum resident set size of a separate process "
               "that loads the model and runs it once (ORT: the whole node process)")
    out.append("")
    out.append("| size | ours weights | ours median ms | ORT median ms | ratio ours/ORT "
               "| ours peak RSS MB | ORT peak RSS MB | RSS ratio |")
    out.append("|---:|---|---:|---:|---:|---:|---:|---:|")
    for s in sizes:
        ort = rows.get(("ort", "-", s))
        for w in ("streamed", "resident"):
            ours = rows.get(("ours", w, s))
            if ours is None:
                continue
            om = statistics.median(ours["run_ms"])
            orm = statistics.median(ort["run_ms"]) if ort else None
            cells = [str(s), w, ms_cell(ours["run_ms"]),
                     ms_cell(ort["run_ms"]) if ort else "-",
                     f"{om / orm:.2f}" if orm else "-",
                     f"{mb(ours['peak_rss_bytes']):.0f}",
                     f"{mb(ort['peak_rss_bytes']):.0f}" if ort else "-",
                     f"{ours['peak_rss_bytes'] / ort['peak_rss_bytes']:.2f}" if ort else "-"]
            out.append("| " + " | ".join(cells) + " |")
    fp32 = [s for s in sizes if ("ort_fp32", "-", s) in rows]
    if fp32:
        out.append("")
        out.append("For context, ORT on an fp32-widened copy of the same file "
                   "(`bench/infer/widen_fp16.py`: same network, fp32 weights and intermediates). "
                   "On x86 ORT has no fp16 Conv kernel, so on the fp16 file it runs every Conv in "
                   "fp32 between inserted Casts; this copy shows its speed without them, at the "
                   "cost of fp32 weights in memory.")
        out.append("")
        out.append("| size | ORT fp32-copy median ms | ours streamed / ORT fp32-copy "
                   "| ours resident / ORT fp32-copy | ORT fp32-copy peak RSS MB |")
        out.append("|---:|---:|---:|---:|---:|")
        for s in fp32:
            r = rows[("ort_fp32", "-", s)]
            m = statistics.median(r["run_ms"])
            ratios = []
            for w in ("streamed", "resident"):
                ours = rows.get(("ours", w, s))
                ratios.append(f"{statistics.median(ours['run_ms']) / m:.2f}" if ours else "-")
            out.append(f"| {s} | {ms_cell(r['run_ms'])} | {ratios[0]} | {ratios[1]} | {mb(r['peak_rss_bytes']):.0f} |")
    out.append("")
    return "\n".join(out)


def update(doc, text):
    old = open(doc).read() if os.path.exists(doc) else "# Performance\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, l in enumerate(lines) if l.rstrip("\n") == HEADING), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        new = "".join(lines[:start]) + text + ("\n" if end < len(lines) else "") + "".join(lines[end:])
    os.makedirs(os.path.dirname(os.path.abspath(doc)), exist_ok=True)
    with open(doc + ".part", "w") as f:
        f.write(new)
    os.replace(doc + ".part", doc)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("results")
    p.add_argument("--command", required=True)
    p.add_argument("--cpu", required=True)
    p.add_argument("--threads", required=True)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--versions", default="")
    p.add_argument("--load", default="", help="load averages at start / end, as text")
    p.add_argument("--date", default=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    p.add_argument("--update")
    args = p.parse_args()
    rows = load(args.results)
    if not rows:
        sys.exit("report: no results")
    args.repeats = len(next(iter(rows.values()))["run_ms"])
    text = section(rows, args)
    print(text)
    if args.update:
        update(args.update, text)
        print(f"report: wrote section '{HEADING}' of {args.update}", file=sys.stderr)


if __name__ == "__main__":
    main()
