#!/usr/bin/env python3
"""POST /api/batches against a running `idphoto serve` and measure it (bench/batch/serve.sh).

usage: serve.py URL TOKEN ROSTER ZIP STATE_OUT [--kill-at-done N --pid PID]
  Posts the roster and the ZIP as one batch, then polls GET /api/batches/{id} every 0.5 s until
  the batch is done. Writes STATE_OUT (JSON): batch id, seconds from the POST's answer to done,
  counts, problems. With --kill-at-done N: sends SIGKILL to PID once N jobs are done and exits
  (the caller restarts the server and runs check mode).
usage: serve.py URL TOKEN --check BATCH_ID DATA_DIR STATE_OUT
  Polls until the batch is done, then audits it: every job's card, its clean photo file on
  disk, one clean file per done job (a file written twice has the same name, so doubles show
  up as files no card names), raw files per job.
Only the standard library; loopback only.
"""
import json
import os
import signal
import sys
import time
import urllib.request
import uuid


def call(url, token, method="GET", body=None, ctype=None):
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def post_batch(base, token, roster, zip_path):
    boundary = "bench" + uuid.uuid4().hex
    parts = []
    for name, fname, ctype, data in (("roster", "roster.csv", "text/csv", open(roster, "rb").read()),
                                     ("photos", "photos.zip", "application/zip", open(zip_path, "rb").read())):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{fname}"\r\n'
                     f"Content-Type: {ctype}\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    status, body = call(base + "/api/batches", token, "POST", b"".join(parts),
                        "multipart/form-data; boundary=" + boundary)
    if status != 202:
        sys.exit(f"serve.py: POST /api/batches: {status} {body[:300]!r}")
    return json.loads(body)


def batch_state(base, token, bid):
    status, body = call(f"{base}/api/batches/{bid}?limit=1", token)
    if status != 200:
        raise RuntimeError(f"GET batch: {status}")
    return json.loads(body)


def all_jobs(base, token, bid):
    jobs, cursor = [], ""
    while True:
        q = f"{base}/api/batches/{bid}?limit=100" + (f"&cursor={cursor}" if cursor else "")
        status, body = call(q, token)
        b = json.loads(body)
        jobs += b["cards"]
        cursor = b.get("nextCursor") or ""
        if not cursor:
            return jobs


def wait_done(base, token, bid, kill_at=None, pid=None):
    while True:
        try:
            b = batch_state(base, token, bid)
        except Exception:  # the server restarting
            time.sleep(0.5)
            continue
        if kill_at is not None and b["counts"]["done"] >= kill_at:
            os.kill(pid, signal.SIGKILL)
            return b
        if b["status"] == "done":
            return b
        time.sleep(0.5)


def main():
    base, token = sys.argv[1], sys.argv[2]
    if sys.argv[3] == "--check":
        bid, data_dir, out = sys.argv[4], sys.argv[5], sys.argv[6]
        t0 = time.time()
        b = wait_done(base, token, bid)
        secs = time.time() - t0
        jobs = all_jobs(base, token, bid)
        named, missing_files, done = set(), 0, 0
        for j in jobs:
            if j["status"] != "done":
                continue
            done += 1
            status, body = call(f"{base}/api/id-cards/{j['cardId']}", token)
            card = json.loads(body)
            url = card.get("cleanPhotoUrl") or ""
            key = url[url.find("/files/") + 7:] if "/files/" in url else ""
            if card.get("photoStatus") != "clean" or not key or not os.path.isfile(os.path.join(data_dir, "files", key)):
                missing_files += 1
            else:
                named.add(key)
        clean_dir = os.path.join(data_dir, "files", "clean")
        clean_files = [f for f in os.listdir(clean_dir) if not f.startswith(".tmp-")] if os.path.isdir(clean_dir) else []
        raw_dir = os.path.join(data_dir, "files", "raw")
        raw_files = [f for f in os.listdir(raw_dir) if not f.startswith(".tmp-")] if os.path.isdir(raw_dir) else []
        state = {"batch": bid, "seconds_to_done": round(secs, 1), "counts": b["counts"], "done_jobs": done,
                 "records_missing": missing_files, "clean_files": len(clean_files),
                 "clean_files_no_card_names": len(set(clean_files) - {k.split("/", 1)[1] for k in named}),
                 "raw_files": len(raw_files), "jobs": len(jobs)}
        json.dump(state, open(out, "w"))
        return
    roster, zip_path, out = sys.argv[3], sys.argv[4], sys.argv[5]
    kill_at = pid = None
    if "--kill-at-done" in sys.argv:
        kill_at = int(sys.argv[sys.argv.index("--kill-at-done") + 1])
        pid = int(sys.argv[sys.argv.index("--pid") + 1])
    t0 = time.time()
    made = post_batch(base, token, roster, zip_path)
    t_posted = time.time()
    b = wait_done(base, token, made["id"], kill_at, pid)
    json.dump({"batch": made["id"], "post_seconds": round(t_posted - t0, 2),
               "seconds_to_done": round(time.time() - t_posted, 1), "counts": b["counts"],
               "problems": len(b["problems"]), "total": b["total"]}, open(out, "w"))


if __name__ == "__main__":
    main()
