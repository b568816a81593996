#!/usr/bin/env python3
"""Slow clients against a running `idphoto serve`: SLOW sockets each send a request line and
then one header line every 5 s (never finishing), while one client times GET /healthz (fresh
connection each, 2 s timeout) for SECONDS; then, slow sockets closed, THREADS clients run GET
/healthz on kept-alive connections for 5 s (throughput). Prints one JSON object. Stdlib only.

usage: slow.py HOST PORT [--slow N] [--seconds S] [--threads T]
"""
import http.client, json, socket, sys, threading, time

host, port = sys.argv[1], int(sys.argv[2])
arg = lambda k, d: type(d)(sys.argv[sys.argv.index(k) + 1]) if k in sys.argv else d
n_slow, seconds, threads = arg("--slow", 60), arg("--seconds", 30.0), arg("--threads", 4)

slow, stop = [], threading.Event()
for i in range(n_slow):
    s = socket.create_connection((host, port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    slow.append(s)

def trickle():
    n = 0
    while not stop.wait(5):
        n += 1
        for s in slow:
            try:
                s.sendall(b"X-Slow-%d: 1\r\n" % n)
            except OSError:
                pass
t = threading.Thread(target=trickle, daemon=True)
t.start()

lat, timeouts, errors = [], 0, 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection(host, port, timeout=2)
        c.request("GET", "/healthz")
        r = c.getresponse(); r.read(); c.close()
        if r.status == 200:
            lat.append(time.monotonic() - t0)
        else:
            errors += 1
    except socket.timeout:
        timeouts += 1
    except OSError:
        errors += 1
    time.sleep(0.05)
stop.set()
cut = 0
for s in slow:
    try:
        s.setblocking(False)
        if s.recv(1) == b"":
            cut += 1
    except BlockingIOError:
        pass
    except OSError:
        cut += 1
    s.close()

count = [0]
def hammer():
    c = http.client.HTTPConnection(host, port, timeout=5)
    e = time.monotonic() + 5
    n = 0
    while time.monotonic() < e:
        c.request("GET", "/healthz"); r = c.getresponse(); r.read(); n += 1
    with lock:
        count[0] += n
lock = threading.Lock()
ts = [threading.Thread(target=hammer) for _ in range(threads)]
[x.start() for x in ts]; [x.join() for x in ts]

lat.sort()
pct = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else None
print(json.dumps({"slow": n_slow, "seconds": seconds, "healthz_ok": len(lat), "healthz_timeouts": timeouts,
                  "healthz_errors": errors, "p50_ms": pct(0.5), "p90_ms": pct(0.9), "p99_ms": pct(0.99),
                  "max_ms": round(lat[-1] * 1000, 2) if lat else None, "slow_cut_by_server": cut,
                  "keepalive_healthz_per_s": round(count[0] / 5, 1), "threads": threads}))
