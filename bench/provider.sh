#!/usr/bin/env bash
# Warden as an OpenID provider under load (issue 19): a release
# `warden serve` on a temporary SQLite data dir, two clients registered with
# `warden client add`, then wrk (Debian package `wrk`) at 32 connections on
#   - POST /oauth2/token, grant_type=client_credentials (Basic auth)
#   - POST /oauth2/introspect of a live access token
#   - POST /oauth2/token, grant_type=authorization_code: codes made
#     beforehand through /oauth2/authorize (one per request, single-use),
#     once with `openid` (an RS256 ID token each) and once without.
# Usage: bench/provider.sh [seconds] [sqlite|postgres|mysql]
# PostgreSQL and MariaDB are the local servers of the guide (a database of
# its own, dropped at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
backend=${2:-sqlite}
conns=${CONNS:-32}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/warden-target}"
cargo build --release -q -p warden
bin="$CARGO_TARGET_DIR/release/warden"
data=$(mktemp -d)
work=$(mktemp -d)
port=18491
base="http://127.0.0.1:$port"
db="warden_bench_$$"
. bench/lib.sh
WARDEN_DATABASE_URL=$(fresh_database "$backend" "$db" "$data") ||
  { echo "usage: $0 [seconds] [sqlite|postgres|mysql]" >&2; exit 2; }
export WARDEN_DATABASE_URL
if [ "$backend" != sqlite ]; then
  WARDEN_KEYS_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64 -w0)
  export WARDEN_KEYS_ENCRYPTION_KEY WARDEN_ISSUER="$base"
fi
pid=
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  drop_database "$backend" "$db"
  rm -rf "$data" "$work"
}
trap cleanup EXIT

add_client() {
  "$bin" client add --data-dir "$data" "$@" 2>/dev/null
}
field() { sed -n "s/^$1 //p"; }
service=$(add_client --name Bench-service --type confidential --grant client_credentials --scope bench:read)
svc_id=$(echo "$service" | field client_id)
svc_secret=$(echo "$service" | field client_secret)
web=$(add_client --name Bench-web --type confidential --first-party \
  --redirect-uri http://127.0.0.1:9/cb --grant authorization_code --grant refresh_token)
web_id=$(echo "$web" | field client_id)
web_secret=$(echo "$web" | field client_secret)

WARDEN_LOG_LEVEL=warn "$bin" serve --http "127.0.0.1:$port" --grpc 127.0.0.1:0 --data-dir "$data" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done

email="bench-$RANDOM@example.com"
password="correct horse battery staple 9!"
access=$(curl -fs "$base/v1/signup" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"]["access_token"])')
svc_basic=$(printf '%s:%s' "$svc_id" "$svc_secret" | base64 -w0)
web_basic=$(printf '%s:%s' "$web_id" "$web_secret" | base64 -w0)
svc_token=$(curl -fs "$base/oauth2/token" -u "$svc_id:$svc_secret" -d grant_type=client_credentials \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

cat > "$work/cc.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Basic $svc_basic"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials"
LUA
cat > "$work/introspect.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Basic $svc_basic"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "token=$svc_token"
LUA
# One code per request, read from a file each thread splits by its id.
cat > "$work/exchange.lua" <<'LUA'
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  codes = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % tonumber(args[2]) == id then table.insert(codes, line) end
    i = i + 1
  end
  n = 0
end
function request()
  n = n + 1
  local code = codes[n] or "woc_exhausted"
  return wrk.format("POST", nil, {
    ["Authorization"] = "Basic " .. args_basic,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "grant_type=authorization_code&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&code_verifier=" .. verifier .. "&code=" .. code)
end
function response(status, headers, body)
  if status ~= 200 then failures = (failures or 0) + 1 end
end
LUA

# Codes through /oauth2/authorize with the person's access cookie, PKCE
# S256 with one verifier for all (each code is still single-use).
make_codes() {
  python3 - "$base" "$access" "$web_id" "$1" "$2" > "$3" <<'PY'
import base64, hashlib, http.client, sys, urllib.parse
base, access, client, scope, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
verifier = "v" * 43
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
host = urllib.parse.urlparse(base).netloc
conn = http.client.HTTPConnection(host)
query = urllib.parse.urlencode({
    "response_type": "code", "client_id": client, "redirect_uri": "http://127.0.0.1:9/cb",
    "scope": scope, "code_challenge": challenge, "code_challenge_method": "S256", "state": "s",
})
for _ in range(count):
    conn.request("GET", "/oauth2/authorize?" + query, headers={"Cookie": "__Host-warden_at=" + access})
    response = conn.getresponse()
    response.read()
    location = response.getheader("Location")
    code = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["code"][0]
    print(code)
PY
}
codes=$((secs * 4000))

echo "== POST /oauth2/token client_credentials ($conns connections)"
wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/cc.lua" "$base/oauth2/token"
# PROFILE=introspect|exchange: perf samples the server during that run
# (the exchange: without openid); the report goes to $PROFILE_OUT,
# default /tmp/warden-<name>.perf.
profile() {
  perf_pid=
  if [ "${PROFILE:-}" = "$1" ]; then
    perf record -F 499 -g -p "$pid" -o "${PROFILE_OUT:-/tmp/warden-$1.perf}" -- sleep "$secs" 2>/dev/null &
    perf_pid=$!
  fi
}
profiled() { if [ -n "${perf_pid:-}" ]; then wait "$perf_pid"; fi; }
echo "== POST /oauth2/introspect ($conns connections)"
profile introspect
wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/introspect.lua" "$base/oauth2/introspect"
profiled
for scope in "email" "openid email"; do
  make_codes "$scope" "$codes" "$work/codes"
  sed -i "1i args_basic = \"$web_basic\"; verifier = \"$(printf 'v%.0s' $(seq 43))\"" "$work/exchange.lua"
  echo "== POST /oauth2/token authorization_code, scope \"$scope\" ($conns connections, $codes codes made)"
  if [ "$scope" = email ]; then profile exchange; fi
  # Short enough that the codes (60 s) neither run out nor expire.
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/exchange.lua" "$base/oauth2/token" -- "$work/codes" 2
  profiled
  sed -i '1d' "$work/exchange.lua"
done
