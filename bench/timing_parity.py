#!/usr/bin/env python3
"""Checklist B11: sign-in timing for unknown e-mails vs wrong passwords.

Starts a release `warden serve` (per-IP limit off so 100 failures are not
throttled), creates N accounts, then interleaves N wrong-password sign-ins
(each on its own account, so lockout never triggers) with N unknown-e-mail
sign-ins, and compares the medians. Usage: bench/timing_parity.py [N]
"""
import http.client, json, os, statistics, subprocess, sys, tempfile, time, uuid

n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/warden-target"))
binary = os.path.join(target, "release", "warden")
port = 18483
data = tempfile.mkdtemp()
env = dict(os.environ, WARDEN_SIGNIN_IP_FAILURES_PER_MINUTE="0", WARDEN_LOG_LEVEL="warn")
server = subprocess.Popen([binary, "serve", "--http", f"127.0.0.1:{port}", "--data-dir", data],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(100):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port); c.request("GET", "/healthz"); c.getresponse().read(); break
        except OSError:
            time.sleep(0.05)
    conn = http.client.HTTPConnection("127.0.0.1", port)

    def post(path, body):
        started = time.perf_counter()
        conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
        response = conn.getresponse(); response.read()
        return response.status, time.perf_counter() - started

    accounts = [f"parity-{uuid.uuid4().hex}@example.com" for _ in range(n)]
    for email in accounts:
        assert post("/v1/signup", {"email": email, "password": "correct horse battery staple 9!"})[0] == 201
    wrong, unknown = [], []
    for email in accounts:
        status, t = post("/v1/signin", {"email": email, "password": "not the right password 1"})
        assert status == 401, status
        wrong.append(t)
        status, t = post("/v1/signin", {"email": f"ghost-{uuid.uuid4().hex}@example.com", "password": "not the right password 1"})
        assert status == 401, status
        unknown.append(t)
    mw, mu = statistics.median(wrong), statistics.median(unknown)
    print(f"samples: {n} each")
    print(f"median wrong password: {mw*1000:.2f} ms")
    print(f"median unknown e-mail: {mu*1000:.2f} ms")
    print(f"difference: {abs(mw - mu) / max(mw, mu) * 100:.1f} %")
finally:
    server.terminate(); server.wait()
