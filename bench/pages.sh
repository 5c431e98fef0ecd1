#!/usr/bin/env bash
# The hosted sign-in page under load: a release `warden serve` on a
# temporary data dir, then `wrk` (Debian package) on GET /signin with 32
# connections. Each answer is a full page render with a fresh CSRF cookie
# (wrk keeps no cookies), the worst case. Also prints the page weight
# (HTML + CSS + JS). Usage: bench/pages.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/warden-target}"
cargo build --release -q -p warden
bin="$CARGO_TARGET_DIR/release/warden"
data=$(mktemp -d)
port=18482
base="http://127.0.0.1:$port"
WARDEN_LOG_LEVEL=warn "$bin" serve --http "127.0.0.1:$port" --grpc 127.0.0.1:0 --data-dir "$data" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 50); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done

echo "== page weight (bytes, uncompressed)"
html=$(curl -fs "$base/signin")
total=${#html}
for asset in $(grep -o '/assets/[^"]*' <<<"$html"); do
  total=$((total + $(curl -fs "$base$asset" | wc -c)))
done
echo "html ${#html}, html+css+js $total"

echo "== GET /signin, 32 connections"
wrk -t1 -c32 -d"${secs}s" --latency "$base/signin"
