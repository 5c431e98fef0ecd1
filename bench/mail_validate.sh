#!/usr/bin/env bash
# /v1/validate p99 while the mail queue drains to SMTP, against the same
# server with delivery off. Starts aiosmtpd (crates/mail/tests/smtp_server.py,
# plain, loopback), a `warden serve` on a temporary data dir with
# [mail] transport = "smtp" and delivery off, queues N verification mails
# (N sign-ups; argon2 made cheap so queueing is quick), measures
# /v1/validate with wrk; then restarts the server with delivery on and
# measures again while the queue drains, reporting how long the drain took.
# Usage: WARDEN_TEST_PYTHON=<python with aiosmtpd==1.4.6> bench/mail_validate.sh [N] [seconds]
# WARDEN_BIN picks the binary (default: a release build).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
secs=${2:-5}
python=${WARDEN_TEST_PYTHON:?set WARDEN_TEST_PYTHON to a python with aiosmtpd==1.4.6}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/warden-target}"
if [ -z "${WARDEN_BIN:-}" ]; then
  cargo build --release -q -p warden
  WARDEN_BIN="$CARGO_TARGET_DIR/release/warden"
fi
work=$(mktemp -d)
mkdir "$work/maildir"
port=18491
base="http://127.0.0.1:$port"
"$python" crates/mail/tests/smtp_server.py --tls none --maildir "$work/maildir" >"$work/smtp.out" 2>&1 &
smtp=$!
pid=
trap 'kill $smtp $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do grep -q READY "$work/smtp.out" && break; sleep 0.1; done
smtp_port=$(awk '/READY/ {print $2}' "$work/smtp.out")

serve() {
  WARDEN_LOG_LEVEL=warn WARDEN_MAIL_TRANSPORT=smtp WARDEN_MAIL_FROM="Warden <no-reply@warden.test>" \
  WARDEN_MAIL_SMTP_URL="smtp://127.0.0.1:$smtp_port?tls=none" WARDEN_MAIL_DELIVER="$1" \
  WARDEN_PASSWORDS_ARGON2_MEMORY_KIB=1024 WARDEN_PASSWORDS_ARGON2_ITERATIONS=1 \
    "$WARDEN_BIN" serve --http "127.0.0.1:$port" --grpc 127.0.0.1:0 --data-dir "$work/data" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && return; sleep 0.1; done
  echo "warden did not start" >&2; exit 1
}

serve false
token=$(curl -fs "$base/v1/signup" -H 'content-type: application/json' \
  -d '{"email":"bench@example.com","password":"correct horse battery staple 9!"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"]["access_token"])')
python3 - "$base" "$n" <<'PY'
import concurrent.futures, json, sys, urllib.request
base, n = sys.argv[1], int(sys.argv[2])
def signup(i):
    body = json.dumps({"email": f"queued-{i}@example.com", "password": "correct horse battery staple 9!"}).encode()
    req = urllib.request.Request(base + "/v1/signup", body, {"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        assert r.status == 201, r.status
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    list(pool.map(signup, range(n)))
PY
cat > "$work/validate.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $token"
LUA
echo "== $((n + 1)) mails queued, delivery off: POST /v1/validate"
wrk -t1 -c32 -d"${secs}s" --latency -s "$work/validate.lua" "$base/v1/validate"
kill $pid; wait $pid 2>/dev/null || true

serve true
started=$(date +%s.%N)
(
  while [ "$(ls "$work/maildir" | wc -l)" -lt $((n + 1)) ]; do sleep 0.05; done
  python3 -c "import time; print(round(time.time() - $started, 2))" >"$work/drained"
) &
watcher=$!
echo "== delivery on, the queue draining to SMTP: POST /v1/validate"
wrk -t1 -c32 -d"${secs}s" --latency -s "$work/validate.lua" "$base/v1/validate"
for _ in $(seq 600); do [ -s "$work/drained" ] && break; sleep 0.1; done
kill $watcher 2>/dev/null || true
echo "== $(ls "$work/maildir" | wc -l) messages delivered; the last $(cat "$work/drained" 2>/dev/null || echo '(not yet)') s after the server started"
