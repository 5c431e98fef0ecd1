#!/usr/bin/env bash
# gRPC Validate vs HTTP /v1/validate, and session-token validation, with the
# Rust load client (crates/grpc/examples/validate_load.rs) against a release
# `warden serve` on loopback. Usage:
#   bench/grpc.sh [seconds] [workers]                 # SQLite, JWT then session tokens
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432 bench/grpc.sh   (not WARDEN_*: the server would read it)
#   BENCH_GRPC_CONNECTIONS=4 bench/grpc.sh            # gRPC workers share 4 channels (default: one each)
# (each run gets a fresh database `warden_bench` on that server, via psql).
# BENCH_SPLIT_CORES=1 (two CPUs, taskset) runs the server on the first CPU
# and the load client on the last, so the client's cost is not taken from
# the server (on shared CPUs a heavier client lowers the server's figure).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
workers=${2:-32}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/warden-target}"
cargo build --release -q -p warden -p warden-grpc --bin warden --example validate_load
bin="$CARGO_TARGET_DIR/release/warden"
load="$CARGO_TARGET_DIR/release/examples/validate_load"
server_cpu=() client_cpu=()
if [ -n "${BENCH_SPLIT_CORES:-}" ]; then
  [ "$(nproc)" -ge 2 ] || { echo "BENCH_SPLIT_CORES needs two CPUs" >&2; exit 1; }
  server_cpu=(taskset -c 0) client_cpu=(taskset -c "$(( $(nproc) - 1 ))")
fi

run() { # mode
  local mode=$1 data http=18491 grpc=18492
  data=$(mktemp -d)
  local env=(WARDEN_LOG_LEVEL=warn WARDEN_TOKENS_ACCESS="$mode")
  local store=sqlite
  if [ -n "${BENCH_POSTGRES_URL:-}" ]; then
    psql -q "$BENCH_POSTGRES_URL/postgres" -c 'DROP DATABASE IF EXISTS warden_bench' \
      -c 'CREATE DATABASE warden_bench'
    store="$BENCH_POSTGRES_URL/warden_bench"
    env+=(WARDEN_DATABASE_URL="$store"
          WARDEN_KEYS_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)")
  fi
  env "${env[@]}" "${server_cpu[@]}" "$bin" serve --http "127.0.0.1:$http" --grpc "127.0.0.1:$grpc" \
    --data-dir "$data" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$http/readyz" >/dev/null && break; sleep 0.1; done
  echo "== tokens.access = $mode, store $store"
  "${client_cpu[@]}" "$load" --grpc "http://127.0.0.1:$grpc" --http "http://127.0.0.1:$http" \
    --workers "$workers" --secs "$secs" --grpc-connections "${BENCH_GRPC_CONNECTIONS:-0}" || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
}

run jwt
run session
