#!/usr/bin/env python3
"""Summarises bench/spec/run.sh's JSON lines into the "## Framing (bench/spec)" section of
docs/performance.md (printed too). usage: report.py RESULTS SPEC LOAD_START LOAD_END VERSION [DOC]"""
import json
import math
import os
import re
import statistics
import sys

out, spec, load_start, load_end, version = sys.argv[1:6]
doc = sys.argv[6] if len(sys.argv) > 6 else ""
SETS = ["fasseg_frontal02", "aisegment_soft20", "eg1800_test257", "hivision_id_inputs_nogt"]


def rows(name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path) if line.strip() and not json.loads(line).get("summary")]


def rss_mib(name):
    try:
        return int(open(os.path.join(out, name)).read().split()[-1]) / 1024
    except (OSError, ValueError, IndexError):
        return float("nan")


def rule(r, rid):
    for x in r["compliance"]["rules"]:
        if x["rule"] == rid:
            return x
    return None


def med(v):
    return statistics.median(v) if v else float("nan")


def p95(v):
    if not v:
        return float("nan")
    s = sorted(v)
    return s[min(len(s) - 1, int(math.ceil(0.95 * len(s))) - 1)]


L = []
L.append("## Framing (bench/spec)")
L.append("")
L.append(f"`bench/spec/run.sh` ({version}), `--spec {spec}`; load {load_start} at the start, {load_end} at the end. "
         "Each framed output is analysed again by `idphoto faces` (BlazeFace + FaceMesh on the output): the eye line "
         "(fraction of the height above the bottom, from the mean of the two eyes' corner midpoints) against the spec's "
         "band and its centre, and the tilt of the eye line. \"fits\" = the frame lies inside the photo "
         "(`frame_filled` passes). Head height is our own report's (crown = the mask's top), not re-detected. "
         "eg1800: every 4th photo.")
L.append("")
L.append("| set | photos | framed | no face | fits | eye line off target, median / p95 | outside the eye band (all / fits) | tilt median / max | head height in band | verdicts pass / warn / fail |")
L.append("|---|---:|---:|---:|---:|---|---|---|---:|---|")
cost = []
worst = []
for s in SETS:
    sp = rows(f"{s}_spec.jsonl")
    pl = rows(f"{s}_plain.jsonl")
    if not sp:
        continue
    ok = [r for r in sp if r.get("error") is None]
    noface = [r for r in sp if r.get("error") and "no face" in r["error"]]
    by_out = {os.path.basename(r["output"]): r for r in ok}
    red = {os.path.basename(r["photo"]): r for r in rows(f"{s}_redetect.jsonl")}
    off, off_fit, outside, outside_fit, tilt, fits, head_ok = [], [], 0, 0, [], 0, 0
    verdicts = {"pass": 0, "warn": 0, "fail": 0}
    for name, r in by_out.items():
        verdicts[r["compliance"]["verdict"]] += 1
        fit = rule(r, "frame_filled")["pass"]
        fits += fit
        head_ok += rule(r, "head_height")["pass"]
        band = rule(r, "eye_line")
        lo, hi = band["min"], band["max"]
        d = red.get(name)
        if not d or d.get("error") or not d.get("faces") or "eyes" not in d["faces"][0]:
            outside += 1
            outside_fit += fit
            worst.append((s, os.path.basename(r["path"]), "no face found again on the output"))
            continue
        (lx, ly), (rx, ry) = d["faces"][0]["eyes"]
        h = d["height"]
        e = (h - (ly + ry) / 2) / h
        t = abs(math.degrees(math.atan2(ry - ly, rx - lx)))
        tilt.append(t)
        err = abs(e - (lo + hi) / 2)
        off.append(err)
        bad = not (lo <= e <= hi)
        outside += bad
        if fit:
            off_fit.append(err)
            outside_fit += bad
        if bad or t > 3:
            worst.append((s, os.path.basename(r["path"]), f"eye line {e:.3f} (band {lo}-{hi}), tilt {t:.1f} deg, fits {fit}"))
    L.append(f"| {s} | {len(sp)} | {len(ok)} | {len(noface)} | {fits} | {med(off):.3f} / {p95(off):.3f} | {outside} / {outside_fit} | "
             f"{med(tilt):.2f} / {max(tilt) if tilt else float('nan'):.2f} deg | {head_ok} | {verdicts['pass']} / {verdicts['warn']} / {verdicts['fail']} |")
    t_spec = [r["ms"] for r in ok]
    t_plain = [r["ms"] for r in pl if r.get("error") is None]
    # The framing itself (faces, landmarks, plan, render, report, encode) is the "encode" step of
    # --spec's steps_ms; the plain run's encode step is what it replaces.
    f_spec = [r["steps_ms"]["encode"] for r in ok if "steps_ms" in r]
    f_plain = [r["steps_ms"]["encode"] for r in pl if r.get("error") is None and "steps_ms" in r]
    cost.append((s, med(t_spec), med(t_plain), med(f_spec), med(f_plain), rss_mib(f"{s}_spec.rss"), rss_mib(f"{s}_plain.rss")))
L.append("")
L.append("Cost, same photos, one process each (models loaded once), one after the other: median time per photo, "
         "the framing step alone (spec's last step: faces, landmarks, plan, render, report, encode; against the plain "
         "encode it replaces; the rest is the same network at the same size, so whole-photo times differ also by the "
         "machine's load between the two runs), and the process's peak RSS:")
L.append("")
L.append("| set | `clean --spec` ms | plain `clean` ms | ratio | framing step / plain encode ms | step ratio of the whole | peak RSS spec / plain (MiB) |")
L.append("|---|---:|---:|---:|---|---:|---|")
for s, ts, tp, fs, fp, rs, rp in cost:
    L.append(f"| {s} | {ts:.0f} | {tp:.0f} | {ts / tp:.2f} | {fs:.0f} / {fp:.0f} | {(tp + fs - fp) / tp:.2f} | {rs:.0f} / {rp:.0f} |")
L.append("")
if worst:
    L.append("Outputs outside the band or tilted > 3 degrees (all of them):")
    L.append("")
    for s, n, why in worst:
        L.append(f"- {s}/{n}: {why}")
else:
    L.append("No output outside the eye band or tilted more than 3 degrees.")
L.append("")
text = "\n".join(L)
print(text)
if doc:
    cur = open(doc).read() if os.path.exists(doc) else ""
    pat = re.compile(r"^## Framing \(bench/spec\)\n.*?(?=^## |\Z)", re.S | re.M)
    cur = pat.sub(text + "\n", cur) if pat.search(cur) else cur.rstrip("\n") + "\n\n" + text + "\n"
    open(doc, "w").write(cur)
