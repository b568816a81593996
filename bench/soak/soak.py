#!/usr/bin/env python3
"""Mixed traffic against a running `idphoto serve` for MINUTES, then a database-vs-store check.

Traffic (all on loopback):
  - uploaders: create a card, upload a photo (one in ten truncated: must be refused, never lose
    the card's previous photo);
  - a fetcher: create a card, POST fetch-and-clean with a rawPhotoUrl on a loopback photo server
    this script runs itself;
  - a PDF reader: card.pdf of a card that has a clean photo;
  - SLOW slow clients: each opens a socket, sends a request line and then one header line every
    5 s; when the server closes it, a new one is opened;
  - a hostile client: oversized Content-Length without a body, a chunked flood without a token,
    a header flood, a garbage request line, two Content-Lengths, an unsatisfiable Range;
  - a probe: GET /healthz on a new connection every 100 ms (latency kept);
  - a sampler: the server's VmRSS every 5 s.
Prints one JSON object. Standard library only.

usage: soak.py BASE_URL TOKEN PHOTO_DIR PID DATA_DIR [--minutes M] [--slow N]
"""
import glob, http.client, http.server, json, os, random, socket, sqlite3, sys, threading, time, urllib.parse, uuid

base, token, photo_dir, pid, data_dir = sys.argv[1:6]
def opt(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default
minutes = opt("--minutes", 30.0)
slow_n = opt("--slow", 200)
u = urllib.parse.urlparse(base)
host, port = u.hostname, u.port
names = sorted(f for f in os.listdir(photo_dir) if os.path.isfile(os.path.join(photo_dir, f)))
photos = [open(os.path.join(photo_dir, f), "rb").read() for f in names]
auth = {"Authorization": "Bearer " + token}
end = time.monotonic() + minutes * 60
t_start = time.monotonic()

lock = threading.Lock()
statuses = {}          # "kind status" -> count
errors = {}            # "kind exception" -> count
clean_cards = []       # cards that reached photoStatus clean
probe = []             # (seconds since start, latency s or None on failure)
rss = []               # (seconds since start, VmRSS kB)
slow_closed = [0]


def count(table, key):
    with lock:
        table[key] = table.get(key, 0) + 1


def request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers={**auth, **(headers or {})})
    r = conn.getresponse()
    return r.status, r.read()


def multipart(photo):
    b = uuid.uuid4().hex
    body = (f"--{b}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.jpg\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + photo + f"\r\n--{b}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={b}"}


def new_card(conn, name):
    st, data = request(conn, "POST", "/api/id-cards", json.dumps({"fullName": name}),
                       {"Content-Type": "application/json"})
    count(statuses, f"create {st}")
    return json.loads(data)["id"] if st in (200, 201) else None


def looping(kind, step):
    """Runs step(conn) until the end; a dropped connection is counted and replaced."""
    def run():
        conn = http.client.HTTPConnection(host, port, timeout=120)
        while time.monotonic() < end:
            try:
                step(conn)
            except Exception as e:
                count(errors, f"{kind} {type(e).__name__}")
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=120)
                time.sleep(0.2)
    return threading.Thread(target=run, daemon=True)


def uploader(seed):
    rng = random.Random(seed)
    def step(conn):
        card = new_card(conn, f"Soak {seed}")
        if not card:
            return time.sleep(0.5)
        photo = rng.choice(photos)
        st, _ = request(conn, "POST", f"/api/id-cards/{card}/photo", *multipart(photo))
        count(statuses, f"upload {st}")
        if st == 200:
            with lock:
                clean_cards.append(card)
            # a truncated upload on a clean card: refused, and the clean photo must stay
            if rng.random() < 0.1:
                st2, _ = request(conn, "POST", f"/api/id-cards/{card}/photo", *multipart(photo[: len(photo) // 3]))
                count(statuses, f"corrupt-upload {st2}")
        elif st == 503:
            time.sleep(0.5)
    return looping("upload", step)


def fetcher(photo_base):
    rng = random.Random(7)
    def step(conn):
        card = new_card(conn, "Soak fetch")
        if not card:
            return time.sleep(0.5)
        body = json.dumps({"rawPhotoUrl": f"{photo_base}/{urllib.parse.quote(rng.choice(names))}"})
        st, _ = request(conn, "POST", f"/api/id-cards/{card}/fetch-and-clean", body,
                        {"Content-Type": "application/json"})
        count(statuses, f"fetch-and-clean {st}")
        if st == 200:
            with lock:
                clean_cards.append(card)
        elif st == 503:
            time.sleep(0.5)
    return looping("fetch", step)


def pdf_reader():
    rng = random.Random(11)
    def step(conn):
        with lock:
            card = rng.choice(clean_cards) if clean_cards else None
        if not card:
            return time.sleep(1)
        st, data = request(conn, "GET", f"/api/id-cards/{card}/card.pdf")
        count(statuses, f"pdf {st}" if st != 200 or data.startswith(b"%PDF") else "pdf 200-not-a-pdf")
        time.sleep(0.5)
    return looping("pdf", step)


def slow_client(i):
    def run():
        while time.monotonic() < end:
            try:
                s = socket.create_connection((host, port), timeout=10)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: soak\r\n")
                while time.monotonic() < end:
                    time.sleep(5)
                    s.sendall(b"X-Slow-%d: %d\r\n" % (i, int(time.monotonic())))
            except OSError:
                with lock:
                    slow_closed[0] += 1
                time.sleep(1)
            finally:
                try:
                    s.close()
                except Exception:
                    pass
    return threading.Thread(target=run, daemon=True)


def raw_exchange(data, read_for=5.0):
    """Sends bytes, returns the status of the first response line ("closed" if none)."""
    s = socket.create_connection((host, port), timeout=read_for)
    try:
        s.sendall(data)
        got = s.recv(256)
        return got.split(b" ")[1].decode() if got.startswith(b"HTTP/1.1 ") else "closed"
    except (socket.timeout, ConnectionError) as e:
        return type(e).__name__
    finally:
        s.close()


def hostile():
    def flood_chunked():
        s = socket.create_connection((host, port), timeout=10)
        try:
            s.sendall(b"POST /api/id-cards HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n"
                      b"Content-Type: application/json\r\n\r\n")
            chunk = b"100000\r\n" + b"x" * 0x100000 + b"\r\n"
            for _ in range(20):
                s.sendall(chunk)
            return "sent"
        except (ConnectionError, socket.timeout) as e:
            return type(e).__name__
        finally:
            s.close()
    cases = {
        "declared-too-large": lambda: raw_exchange(b"POST /api/id-cards HTTP/1.1\r\nHost: soak\r\n"
                                                   b"Content-Length: 11000000\r\n\r\n"),
        "chunked-flood": flood_chunked,
        "header-flood": lambda: raw_exchange(b"GET /healthz HTTP/1.1\r\nHost: soak\r\n" +
                                             b"".join(b"X-%d: %s\r\n" % (i, b"y" * 8000) for i in range(300)) + b"\r\n"),
        "garbage-line": lambda: raw_exchange(b"\x16\x03\x01 nonsense \r\n\r\n"),
        "two-content-lengths": lambda: raw_exchange(b"POST /api/id-cards HTTP/1.1\r\nHost: soak\r\n"
                                                    b"Content-Length: 16\r\nContent-Length: 2\r\n\r\n{}"),
        "bad-range": lambda: raw_exchange(b"GET /files/clean/none.png HTTP/1.1\r\nHost: soak\r\n"
                                          b"Range: bytes=999999-\r\n\r\n"),
    }
    def run():
        keys = sorted(cases)
        i = 0
        while time.monotonic() < end:
            k = keys[i % len(keys)]
            try:
                count(statuses, f"hostile {k} {cases[k]()}")
            except OSError as e:
                count(errors, f"hostile {k} {type(e).__name__}")
            i += 1
            time.sleep(2)
    return threading.Thread(target=run, daemon=True)


def prober():
    def run():
        while time.monotonic() < end:
            t0 = time.monotonic()
            try:
                c = http.client.HTTPConnection(host, port, timeout=10)
                c.request("GET", "/healthz")
                r = c.getresponse()
                r.read()
                c.close()
                lat = time.monotonic() - t0 if r.status == 200 else None
            except Exception:
                lat = None
            with lock:
                probe.append((t0 - t_start, lat))
            time.sleep(max(0.0, 0.1 - (time.monotonic() - t0)))
    return threading.Thread(target=run, daemon=True)


def sampler():
    def run():
        while time.monotonic() < end:
            try:
                kb = int(next(l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")).split()[1])
                with lock:
                    rss.append((time.monotonic() - t_start, kb))
            except (OSError, StopIteration):
                pass
            time.sleep(5)
    return threading.Thread(target=run, daemon=True)


class PhotoHandler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=photo_dir, **k)
    def log_message(self, *a):
        pass


photo_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PhotoHandler)
threading.Thread(target=photo_server.serve_forever, daemon=True).start()
photo_base = f"http://127.0.0.1:{photo_server.server_address[1]}"

threads = [uploader(1), uploader(2), fetcher(photo_base), pdf_reader(), hostile(), prober(), sampler()]
threads += [slow_client(i) for i in range(slow_n)]
for t in threads:
    t.start()
while time.monotonic() < end:
    time.sleep(1)
for t in threads[:4]:  # the requests in flight at the end finish before the store is checked
    t.join(timeout=180)
photo_server.shutdown()


def pct(xs, p):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p / 100 * len(xs)))], 4) if xs else None


def window(series, a, b):
    return [v for t, v in series if a <= t < b]


total = minutes * 60
lat_ok = [l for _, l in probe if l is not None]
five = min(300.0, total / 3)
rss_first, rss_last = window(rss, 0, five), window(rss, total - five, total + 60)

# The database against the store: every referenced key is a file; files nobody references.
db = glob.glob(os.path.join(data_dir, "*.db"))[0]
rows = sqlite3.connect(db).execute(
    "select id, raw_photo_key, clean_photo_key, status from id_cards").fetchall()
store = os.path.join(data_dir, "files")
files = {}
for dirpath, _, fs in os.walk(store):
    for f in fs:
        p = os.path.join(dirpath, f)
        files[os.path.relpath(p, store)] = time.time() - os.path.getmtime(p)
referenced = {k for r in rows for k in (r[1], r[2]) if k}
missing = sorted(k for k in referenced if k not in files)
orphans = sorted(k for k in files if k not in referenced)
by_status = {}
for r in rows:
    by_status[r[3]] = by_status.get(r[3], 0) + 1
# Every card that once reached clean must still be clean with its photo (corrupt uploads must not lose it).
lost = [r[0] for r in rows if r[0] in set(clean_cards) and (r[3] != "clean" or not r[2] or r[2] not in files)]

print(json.dumps({
    "minutes": minutes, "slow_clients": slow_n, "slow_connections_closed_by_server": slow_closed[0],
    "statuses": dict(sorted(statuses.items())), "errors": dict(sorted(errors.items())),
    "healthz": {"probes": len(probe), "failed": sum(1 for _, l in probe if l is None),
                "p50_ms": round(1000 * pct(lat_ok, 50), 1) if lat_ok else None,
                "p99_ms": round(1000 * pct(lat_ok, 99), 1) if lat_ok else None,
                "max_ms": round(1000 * max(lat_ok), 1) if lat_ok else None},
    "rss_mib": {"first_window_mean": round(sum(rss_first) / len(rss_first) / 1024, 1) if rss_first else None,
                "last_window_mean": round(sum(rss_last) / len(rss_last) / 1024, 1) if rss_last else None,
                "window_s": five, "max": round(max(v for _, v in rss) / 1024, 1) if rss else None,
                "samples": " ".join(f"{round(t)}s:{v / 1024:.0f}" for t, v in rss[:: max(1, len(rss) // 30)])},
    "store": {"cards": len(rows), "by_status": by_status, "files": len(files), "referenced": len(referenced),
              "referenced_missing": missing[:20], "unreferenced": len(orphans),
              "unreferenced_oldest_s": round(max((files[k] for k in orphans), default=0)),
              "clean_cards_lost": lost[:20]},
}))
