#!/usr/bin/env python3
"""Checks that the Grafana dashboard queries metrics Warden really exports.

Starts the real binary on a temporary data dir, makes a request of each kind
the dashboard's series need (a health check, a failed sign-in), scrapes
/metrics, and fails when a dashboard expression names a warden_* metric or a
label that the scrape does not have.

Usage: dashboard_metrics.py WARDEN_BINARY DASHBOARD.json
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request

# Labels Prometheus adds at scrape time or histogram buckets carry.
SCRAPE_LABELS = {"job", "instance", "le"}


def fail(message):
    print(f"dashboard-metrics: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def expressions(dashboard):
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            yield f"variable {variable['name']}", query["query"]


def scrape(binary):
    with tempfile.TemporaryDirectory() as data:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": data}
        server = subprocess.Popen(
            [binary, "serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--data-dir", data],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            line = server.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:\d+", line)
            if not match:
                fail(f"warden serve did not say where it listens: {line!r}")
            base = match.group(0)
            urllib.request.urlopen(f"{base}/healthz", timeout=10).read()
            signin = urllib.request.Request(
                f"{base}/v1/signin",
                data=json.dumps({"email": "nobody@example.com", "password": "wrong password 1"}).encode(),
                headers={"content-type": "application/json"},
            )
            try:
                urllib.request.urlopen(signin, timeout=30).read()
                fail("a sign-in with an unknown e-mail succeeded")
            except urllib.error.HTTPError as e:
                if e.code != 401:
                    fail(f"unknown e-mail sign-in answered {e.code}, not 401")
            return urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
        finally:
            server.terminate()
            server.wait(timeout=30)


def main():
    if len(sys.argv) != 3:
        fail(__doc__)
    binary, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        dashboard = json.load(f)
    text = scrape(binary)
    names, labels = set(), set(SCRAPE_LABELS)
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s", line)
        if match:
            names.add(match.group(1))
            labels.update(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"", match.group(2) or ""))
    checked = 0
    for where, expr in expressions(dashboard):
        for metric in re.findall(r"\bwarden_[a-z0-9_]+", expr):
            if metric not in names:
                fail(f"{path}, {where}: {metric} is not exported (have: {', '.join(sorted(names))})")
            checked += 1
        used = set(re.findall(r"(?:by|without) \(([^)]*)\)", expr))
        used = {l.strip() for group in used for l in group.split(",")}
        used |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"", expr))
        for label in used - labels:
            fail(f"{path}, {where}: label {label} is on no exported series (have: {', '.join(sorted(labels))})")
    if checked == 0:
        fail(f"{path} queries no warden_* metric")
    print(f"dashboard-metrics: {checked} metric references in {path} match the binary's /metrics")


if __name__ == "__main__":
    main()
