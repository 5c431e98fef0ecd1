#!/usr/bin/env bash
# Endpoint load test: starts a release `warden serve` on a temporary data
# dir, creates a user, and drives /v1/validate, /v1/verify and /v1/signin
# with wrk (Debian package `wrk`). Usage: bench/load.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/warden-target}"
cargo build --release -q -p warden
bin="$CARGO_TARGET_DIR/release/warden"
data=$(mktemp -d)
port=18481
base="http://127.0.0.1:$port"
WARDEN_LOG_LEVEL=warn "$bin" serve --http "127.0.0.1:$port" --grpc 127.0.0.1:0 --data-dir "$data" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 50); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done

email="bench-$RANDOM@example.com"
password="correct horse battery staple 9!"
token=$(curl -fs "$base/v1/signup" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"]["access_token"])')

lua=$(mktemp -d)
cat > "$lua/validate.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $token"
LUA
cat > "$lua/signin.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"$email","password":"$password"}'
LUA

echo "== idle RSS (KiB) before load"
grep VmRSS /proc/$pid/status

echo "== POST /v1/validate (valid token)"
wrk -t1 -c32 -d"${secs}s" --latency -s "$lua/validate.lua" "$base/v1/validate"
echo "== GET /v1/verify (valid token)"
wrk -t1 -c32 -d"${secs}s" --latency -H "Authorization: Bearer $token" "$base/v1/verify"
echo "== POST /v1/signin (argon2id m=19456 t=2 p=1)"
wrk -t1 -c16 -d"${secs}s" --latency -s "$lua/signin.lua" "$base/v1/signin"
echo "== /v1/validate while sign-in is saturated"
wrk -t1 -c16 -d"$((secs + 2))s" -s "$lua/signin.lua" "$base/v1/signin" >/dev/null &
sleep 1
wrk -t1 -c8 -d"${secs}s" --latency -s "$lua/validate.lua" "$base/v1/validate"
wait %2 2>/dev/null || true
echo "== RSS (KiB) after load"
grep VmRSS /proc/$pid/status
rm -rf "$lua"
