#!/usr/bin/env bash
# Per-backend load test: starts a release `warden serve` on a fresh SQLite
# file, PostgreSQL database or MariaDB database, and drives sign-in, sign-up,
# refresh and /v1/validate with wrk. Refresh tokens are single-use, so each
# wrk thread holds one connection and chains the token every response returns.
# Usage: bench/stores.sh sqlite|postgres|mysql [seconds]
# CHAINS=32 bench/stores.sh postgres  sets the refresh chains (and the pool).
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:?usage: bench/stores.sh sqlite|postgres|mysql [seconds]}
secs=${2:-10}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/warden-target}"
cargo build --release -q -p warden
bin="$CARGO_TARGET_DIR/release/warden"
data=$(mktemp -d)
lua=$(mktemp -d)
db="warden_bench_$$"
port=18482
base="http://127.0.0.1:$port"
. bench/lib.sh
url=$(fresh_database "$backend" "$db" "$data")
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  drop_database "$backend" "$db"
  rm -rf "$data" "$lua"
}
kek=$(head -c 32 /dev/urandom | base64)
export WARDEN_DATABASE_URL="$url"
WARDEN_LOG_LEVEL=warn WARDEN_KEYS_ENCRYPTION_KEY="$kek" WARDEN_DATABASE_MAX_CONNECTIONS=${CHAINS:-16} \
  "$bin" serve --http "127.0.0.1:$port" --grpc 127.0.0.1:0 --data-dir "$data" >/dev/null 2>&1 &
pid=$!
trap cleanup EXIT
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done

password="correct horse battery staple 9!"
email="bench-$RANDOM@example.com"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
token=$(curl -fs "$base/v1/signup" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}" | json '["tokens"]["access_token"]')

threads=${CHAINS:-16}
# One session per wrk thread for the refresh chains.
{
  echo "tokens = {"
  for _ in $(seq $threads); do
    curl -fs "$base/v1/signin" -H 'content-type: application/json' \
      -d "{\"email\":\"$email\",\"password\":\"$password\"}" | json '["refresh_token"]' | sed 's/.*/  "&",/'
  done
  echo "}"
} > "$lua/tokens.lua"

cat > "$lua/refresh.lua" <<LUA
dofile("$lua/tokens.lua")
local next_id = 1
function setup(thread)
  thread:set("token", tokens[next_id])
  next_id = next_id + 1
end
failures = 0
function request()
  return wrk.format("POST", "/v1/token/refresh", {["Content-Type"] = "application/json"},
    '{"refresh_token":"' .. token .. '"}')
end
function response(status, headers, body)
  local fresh = body:match('"refresh_token":"(wrt_[^"]+)"')
  if status ~= 200 or not fresh then
    error("refresh failed with status " .. status)
  end
  token = fresh
end
LUA
cat > "$lua/signin.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"$email","password":"$password"}'
LUA
cat > "$lua/signup.lua" <<LUA
local counter = 0
local next_id = 1
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
function request()
  counter = counter + 1
  local email = string.format("load-%d-%d-%d@example.com", $$, id, counter)
  return wrk.format("POST", "/v1/signup", {["Content-Type"] = "application/json"},
    '{"email":"' .. email .. '","password":"$password"}')
end
LUA
cat > "$lua/validate.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $token"
LUA

echo "== backend: $backend"
echo "== POST /v1/token/refresh ($threads chains, one connection each)"
wrk -t$threads -c$threads -d"${secs}s" --latency -s "$lua/refresh.lua" "$base/v1/token/refresh"
echo "== POST /v1/signin (argon2id m=19456 t=2 p=1)"
wrk -t1 -c16 -d"${secs}s" --latency -s "$lua/signin.lua" "$base/v1/signin"
echo "== POST /v1/signup (argon2id + strength check)"
wrk -t4 -c16 -d"${secs}s" --latency -s "$lua/signup.lua" "$base/v1/signup"
echo "== POST /v1/validate (no database on the hot path)"
wrk -t1 -c32 -d"${secs}s" --latency -s "$lua/validate.lua" "$base/v1/validate"
