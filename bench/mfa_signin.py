#!/usr/bin/env python3
"""Sign-in throughput with and without a second factor, against a release
`warden serve` on a temporary data dir (SQLite).

The password check (argon2id) is the ceiling of sign-in throughput; the
second step must add no password hash, so two-step sign-ins per second
should match one-step ones. Each of USERS accounts turns on an
authenticator app through the API and signs in once per recovery code
(ten each): the second step then costs what a TOTP check costs (a SHA-256
against HMAC-SHA1, both microseconds), without waiting for 30-second TOTP
windows. The same number of password-only accounts is the baseline.

Usage: bench/mfa_signin.py [users] [threads]
  (needs $CARGO_TARGET_DIR/release/warden, or builds it)
"""

import base64
import hashlib
import hmac
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

USERS = int(sys.argv[1]) if len(sys.argv) > 1 else 60
THREADS = int(sys.argv[2]) if len(sys.argv) > 2 else 16
PASSWORD = "correct horse battery staple 9!"
PORT = 18493
BASE = f"http://127.0.0.1:{PORT}"


def call(method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def totp(secret, step):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0xF
    value = (struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{value:06d}"


def percentile(samples, p):
    samples = sorted(samples)
    return samples[min(len(samples) - 1, round((len(samples) - 1) * p))] * 1e3


def run(jobs, work):
    """Runs work(job) for every job on THREADS threads; wall time and latencies."""
    lock = threading.Lock()
    queue = list(jobs)
    times = {}

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                job = queue.pop()
            for name, seconds in work(job).items():
                with lock:
                    times.setdefault(name, []).append(seconds)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, times


def main():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/warden-target"))
    binary = os.path.join(target, "release", "warden")
    if not os.path.exists(binary):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "warden"], check=True)
    data = tempfile.mkdtemp()
    env = dict(os.environ, WARDEN_LOG_LEVEL="warn")
    server = subprocess.Popen(
        [binary, "serve", "--http", f"127.0.0.1:{PORT}", "--grpc", "127.0.0.1:0", "--data-dir", data],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(BASE + "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        stamp = int(time.time())
        with_app, plain = [], []
        for i in range(USERS):
            for kind, into in (("mfa", with_app), ("plain", plain)):
                email = f"{kind}-{stamp}-{i}@example.com"
                status, body = call("POST", "/v1/signup", {"email": email, "password": PASSWORD})
                assert status == 201, body
                into.append((email, body["tokens"]["access_token"]))
        accounts = []
        for email, access in with_app:
            status, body = call("POST", "/v1/mfa/totp", {}, access)
            assert status == 200, body
            secret = body["secret"]
            status, body = call("POST", "/v1/mfa/totp/confirm", {"code": totp(secret, int(time.time()) // 30)}, access)
            assert status == 200, body
            accounts.append((email, body["recovery_codes"]))

        def one_step(email):
            t = time.perf_counter()
            status, body = call("POST", "/v1/signin", {"email": email, "password": PASSWORD})
            assert status == 200, body
            return {"password": time.perf_counter() - t}

        def two_steps(job):
            email, code = job
            t = time.perf_counter()
            status, body = call("POST", "/v1/signin", {"email": email, "password": PASSWORD})
            assert status == 403 and body["code"] == "mfa_required", body
            t2 = time.perf_counter()
            status, body = call("POST", "/v1/signin/mfa", {"mfa_token": body["mfa_token"], "recovery_code": code})
            assert status == 200, body
            t3 = time.perf_counter()
            return {"first step": t2 - t, "second step": t3 - t2, "whole": t3 - t}

        plain_jobs = [email for email, _ in plain for _ in range(10)]
        mfa_jobs = [(email, code) for email, codes in accounts for code in codes]
        for label, jobs, work in (
            ("password only", plain_jobs, one_step),
            ("password + recovery code", mfa_jobs, two_steps),
        ):
            wall, times = run(jobs, work)
            print(f"{label}: {len(jobs)} sign-ins in {wall:.1f} s = {len(jobs) / wall:.1f}/s ({THREADS} threads)")
            for name, samples in times.items():
                print(
                    f"  {name:<12} p50 {percentile(samples, 0.5):7.2f} ms  "
                    f"p90 {percentile(samples, 0.9):7.2f} ms  p99 {percentile(samples, 0.99):7.2f} ms"
                )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
