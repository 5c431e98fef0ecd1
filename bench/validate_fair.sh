#!/usr/bin/env bash
# HTTP POST /v1/validate vs gRPC Validate with comparable C load generators:
# wrk (HTTP/1.1) and h2load (HTTP/2, from Debian's nghttp2-client) each on
# one thread, the same connection count, one request in flight per
# connection, against a release `warden serve` (SQLite) on loopback.
# Usage: bench/validate_fair.sh [seconds] [connections]
#        BENCH_BIN=path/to/warden bench/validate_fair.sh 5 32
# BENCH_SPLIT_CORES=1 (two CPUs, taskset) runs the server on the first CPU
# and the load client on the last, so the client's cost is not taken from
# the server (on shared CPUs a heavier client lowers the server's figure).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}
command -v h2load >/dev/null || apt-get install -y nghttp2-client >/dev/null
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/warden-target}"
# BENCH_BIN=<path> measures that binary instead of building a release one.
if [ -z "${BENCH_BIN:-}" ]; then
  cargo build --release -q --locked -p warden --bin warden
fi
bin="${BENCH_BIN:-$CARGO_TARGET_DIR/release/warden}"
server_cpu=() client_cpu=()
if [ -n "${BENCH_SPLIT_CORES:-}" ]; then
  [ "$(nproc)" -ge 2 ] || { echo "BENCH_SPLIT_CORES needs two CPUs" >&2; exit 1; }
  server_cpu=(taskset -c 0) client_cpu=(taskset -c "$(( $(nproc) - 1 ))")
fi
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
http=18591 grpc=18592
WARDEN_LOG_LEVEL=warn "${server_cpu[@]}" "$bin" serve --http "127.0.0.1:$http" --grpc "127.0.0.1:$grpc" \
  --data-dir "$work/data" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 300); do curl -fs "http://127.0.0.1:$http/readyz" >/dev/null && break; sleep 0.1; done

token=$(curl -fsS "http://127.0.0.1:$http/v1/signup" -H 'content-type: application/json' \
  -d "{\"email\":\"bench-$RANDOM@example.com\",\"password\":\"correct horse battery staple 42\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"]["access_token"])')

# The gRPC body: a length-prefixed, uncompressed ValidateRequest{token = 1}.
python3 - "$token" "$work/validate.grpc" <<'EOF'
import struct, sys
token = sys.argv[1].encode()
def varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80]); n >>= 7
    return out + bytes([n])
message = b"\x0a" + varint(len(token)) + token
open(sys.argv[2], "wb").write(b"\x00" + struct.pack(">I", len(message)) + message)
EOF
cat > "$work/validate.lua" <<EOF
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $token"
EOF

echo "== HTTP POST /v1/validate: wrk -t1 -c$conns -d${secs}s"
"${client_cpu[@]}" wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$work/validate.lua" \
  "http://127.0.0.1:$http/v1/validate" | grep -E "Requests/sec|Non-2xx|50%|90%|99%"
echo "== gRPC Validate: h2load -t1 -c$conns -m1 -D$secs"
"${client_cpu[@]}" h2load -t1 -c"$conns" -m1 -D"$secs" -d "$work/validate.grpc" \
  -H 'content-type: application/grpc' -H 'te: trailers' \
  "http://127.0.0.1:$grpc/warden.v1.AuthService/Validate" |
  grep -E "finished in|requests:|status codes|time for request"
# How gRPC clients are used in practice: a few channels, many calls in
# flight on each (the same 32 outstanding requests over 4 connections).
streams=$(( (conns + 3) / 4 ))
echo "== gRPC Validate, multiplexed: h2load -t1 -c4 -m$streams -D$secs"
"${client_cpu[@]}" h2load -t1 -c4 -m"$streams" -D"$secs" -d "$work/validate.grpc" \
  -H 'content-type: application/grpc' -H 'te: trailers' \
  "http://127.0.0.1:$grpc/warden.v1.AuthService/Validate" |
  grep -E "finished in|requests:|status codes|time for request"
# Every call must have been answered OK, not just with HTTP 200.
curl -fs "http://127.0.0.1:$http/metrics" | grep -E '^warden_grpc_requests_total' || true
