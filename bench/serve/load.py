#!/usr/bin/env python3
"""Concurrent clients against a running `idphoto serve`: each client loops
create card -> upload photo for DURATION seconds, and we count statuses and
latencies of the uploads. Prints one JSON object. Standard library only.

usage: load.py BASE_URL TOKEN PHOTO_DIR [--clients N] [--seconds S]
"""
import http.client, json, os, random, sys, threading, time, urllib.parse, uuid

base, token, photo_dir = sys.argv[1:4]
clients = int(sys.argv[sys.argv.index("--clients") + 1]) if "--clients" in sys.argv else 4
seconds = float(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 60
u = urllib.parse.urlparse(base)
photos = [os.path.join(photo_dir, f) for f in sorted(os.listdir(photo_dir))]
photos = [open(p, "rb").read() for p in photos if os.path.isfile(p)]
auth = {"Authorization": "Bearer " + token}

lock = threading.Lock()
statuses, latencies_ok, created, accepted_ids = {}, [], [], []
errors = []


def request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers={**auth, **(headers or {})})
    r = conn.getresponse()
    data = r.read()
    return r.status, data


def client(seed):
    rng = random.Random(seed)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            st, data = request(conn, "POST", "/api/id-cards", json.dumps({"fullName": f"Bench {seed}"}),
                               {"Content-Type": "application/json"})
            if st != 201 and st != 200:
                with lock:
                    statuses[f"create {st}"] = statuses.get(f"create {st}", 0) + 1
                continue
            card = json.loads(data)["id"]
            with lock:
                created.append(card)
            boundary = uuid.uuid4().hex
            photo = rng.choice(photos)
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.jpg\"\r\n"
                    f"Content-Type: application/octet-stream\r\n\r\n").encode() + photo + f"\r\n--{boundary}--\r\n".encode()
            t0 = time.monotonic()
            st, data = request(conn, "POST", f"/api/id-cards/{card}/photo", body,
                               {"Content-Type": f"multipart/form-data; boundary={boundary}"})
            dt = time.monotonic() - t0
            with lock:
                statuses[str(st)] = statuses.get(str(st), 0) + 1
                if st == 200:
                    latencies_ok.append(dt)
                    accepted_ids.append(card)
            if st == 503:
                time.sleep(0.2)
        except Exception as e:  # a dropped connection counts, and we reconnect
            with lock:
                errors.append(repr(e))
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)


t0 = time.monotonic()
threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
wall = time.monotonic() - t0

# Every accepted upload must be on its card: photoStatus clean and a served PNG URL.
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
missing = 0
for card in accepted_ids:
    st, data = request(conn, "GET", f"/api/id-cards/{card}")
    c = json.loads(data) if st == 200 else {}
    if st != 200 or c.get("photoStatus") != "clean" or not c.get("cleanPhotoUrl"):
        missing += 1
lat = sorted(latencies_ok)
q = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))], 3) if lat else None
print(json.dumps({"clients": clients, "seconds": round(wall, 1), "uploads_ok": len(lat),
                  "throughput_per_min": round(len(lat) / wall * 60, 1), "p50_s": q(0.50), "p99_s": q(0.99),
                  "statuses": statuses, "cards_created": len(created), "accepted_missing_on_card": missing,
                  "client_errors": errors[:5], "n_client_errors": len(errors)}))
