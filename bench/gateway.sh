#!/usr/bin/env bash
# Gateway overhead: one trivial upstream (nginx `return 200`), then the same
# wrk run against it directly, through `warden gateway` (release build,
# token verified locally), and through nginx with `auth_request` to Warden's
# `GET /v1/verify` (a call to Warden per request), each with a valid token.
# Usage: bench/gateway.sh [seconds] [connections]
#        BENCH_BIN=path/to/warden bench/gateway.sh 10 32
#        BENCH_SPLIT_CORES=1 bench/gateway.sh 10 32
# By default every process shares all CPUs. BENCH_SPLIT_CORES=1 (needs two
# CPUs and taskset) gives each tier its own CPU, as separate hosts would:
# the client (wrk, one thread) and the upstream on the last CPU, the proxy
# under test (the gateway, or nginx with Warden) on the first, so a proxied
# row shows whether the proxy keeps up with what client and upstream can do.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/warden-target}"

for tool in wrk nginx; do
  command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin" command -v "$tool" >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq "$tool" >/dev/null; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

# Command prefixes that pin a tier to a CPU (empty: no pinning).
proxy_cpu=() client_cpu=() wrk_threads=2
if [ -n "${BENCH_SPLIT_CORES:-}" ]; then
  last=$(( $(nproc) - 1 ))
  [ "$last" -ge 1 ] || { echo "BENCH_SPLIT_CORES needs two CPUs" >&2; exit 1; }
  proxy_cpu=(taskset -c 0) client_cpu=(taskset -c "$last") wrk_threads=1
fi

# BENCH_BIN=<path> measures that binary instead of building a release one.
if [ -z "${BENCH_BIN:-}" ]; then
  cargo build --release -q --locked -p warden
fi
bin="${BENCH_BIN:-$CARGO_TARGET_DIR/release/warden}"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pidfile in "$work"/nginx-*.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

warden_port=18600 upstream_port=18601 nginx_port=18602 gateway_port=18603 admin_port=18604 plain_port=18605
warden="http://127.0.0.1:$warden_port"

WARDEN_ISSUER="$warden" WARDEN_LOG_LEVEL=warn "${proxy_cpu[@]}" "$bin" serve --http "127.0.0.1:$warden_port" --grpc 127.0.0.1:0 \
  --data-dir "$work/data" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "$warden/healthz" >/dev/null && break; sleep 0.1; done

# Two nginx instances, so the upstream and the proxies can sit on different
# CPUs: the trivial upstream every variant ends at, and nginx as a proxy.
mkdir -p "$work/nginx"
nginx_conf() { # name, then the servers
  cat <<NGINX
worker_processes 1;
pid $work/nginx-$1.pid;
error_log $work/nginx/error-$1.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx; uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
$2
}
NGINX
}
nginx_conf upstream "
  server {
    listen 127.0.0.1:$upstream_port;
    location / { return 200 \"ok\\n\"; }
  }" > "$work/upstream.conf"
nginx_conf proxy "
  upstream app { server 127.0.0.1:$upstream_port; keepalive 64; }
  upstream warden { server 127.0.0.1:$warden_port; keepalive 64; }
  # nginx as a plain reverse proxy, no auth: what one proxy hop costs.
  server {
    listen 127.0.0.1:$plain_port;
    location / {
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_pass http://app;
    }
  }
  # nginx + auth_request: the usual way to put Warden in front without the gateway.
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      auth_request /_warden_verify;
      auth_request_set \$warden_user \$upstream_http_x_warden_user;
      proxy_set_header X-Warden-User \$warden_user;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_pass http://app;
    }
    location = /_warden_verify {
      internal;
      proxy_pass http://warden/v1/verify;
      proxy_pass_request_body off;
      proxy_set_header Content-Length \"\";
      proxy_set_header X-Original-URI \$request_uri;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }
  }" > "$work/proxy.conf"
"${client_cpu[@]}" "$nginx_bin" -c "$work/upstream.conf" -p "$work/nginx"
"${proxy_cpu[@]}" "$nginx_bin" -c "$work/proxy.conf" -p "$work/nginx"

cat > "$work/gateway.toml" <<TOML
listen = "127.0.0.1:$gateway_port"
admin_listen = "127.0.0.1:$admin_port"
issuer = "$warden"

[[route]]
prefix = "/"
upstream = "http://127.0.0.1:$upstream_port"
auth = "required"
roles = ["user"]
TOML
RUST_LOG=warn "${proxy_cpu[@]}" "$bin" gateway --config "$work/gateway.toml" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null && break; sleep 0.1; done

token=$(curl -fs "$warden/v1/signup" -H 'content-type: application/json' \
  -d "{\"email\":\"bench-$RANDOM@example.com\",\"password\":\"correct horse battery staple 9!\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"]["access_token"])')
for port in $upstream_port $plain_port $gateway_port $nginx_port; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$port/x")
  [ "$code" = 200 ] || { echo "port $port answered $code" >&2; exit 1; }
done

run() { # label url [threads connections]
  echo "== $1"
  "${client_cpu[@]}" wrk -t"${3:-$wrk_threads}" -c"${4:-$conns}" -d"${secs}s" --latency -H "Authorization: Bearer $token" "$2" |
    grep -E 'Requests/sec|^ +50%|^ +99%|Non-2xx|Socket errors' || true
}
echo "wrk -t$wrk_threads -c$conns -d${secs}s --latency, $(nproc) CPUs${BENCH_SPLIT_CORES:+ split (client+upstream | proxy)}, $(date -u +%FT%TZ)"
run "direct (nginx return 200)" "http://127.0.0.1:$upstream_port/x"
run "nginx proxy_pass, no auth (one proxy hop)" "http://127.0.0.1:$plain_port/x"
run "warden gateway" "http://127.0.0.1:$gateway_port/x"
run "nginx + auth_request to /v1/verify" "http://127.0.0.1:$nginx_port/x"
# What a hop adds to one request, without the queueing of a saturated
# machine: one connection, one request at a time.
echo "wrk -t1 -c1 -d${secs}s --latency (one request at a time)"
run "direct, one connection" "http://127.0.0.1:$upstream_port/x" 1 1
run "warden gateway, one connection" "http://127.0.0.1:$gateway_port/x" 1 1
run "nginx + auth_request, one connection" "http://127.0.0.1:$nginx_port/x" 1 1
