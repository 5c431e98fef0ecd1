#!/usr/bin/env bash
# The Warden demo in one command: Warden, the Warden gateway and the tickets
# service on loopback, a curl walkthrough, Ctrl-C stops everything.
#
#   examples/demo.sh            # build (release), start, print the walkthrough, wait
#   examples/demo.sh --check    # start, run the walkthrough, exit non-zero on a surprise
#
# Environment:
#   WARDEN_BIN, TICKETS_BIN   use these binaries instead of `cargo build --release`
#   DEMO_NATS_URL             the event bus (default nats://127.0.0.1:4222, used
#                             when reachable: deletions and sign-outs propagate at once)
#   DEMO_WARDEN_PORT, DEMO_GATEWAY_PORT, DEMO_TICKETS_PORT
#                             preferred ports (8080, 8000, 4001; the next free one is taken)
#
# Needs bash and curl. Everything runs as this user, in a temp dir that is
# deleted on exit; nothing listens beyond 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
command -v curl >/dev/null || die "curl is required"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local port=$1
  while port_open "$port"; do port=$((port + 1)); done
  echo "$port"
}

# --- binaries ---------------------------------------------------------------
if [[ -n "${WARDEN_BIN:-}" && -n "${TICKETS_BIN:-}" ]]; then
  warden=$WARDEN_BIN tickets=$TICKETS_BIN
else
  # --workspace: the same package selection, hence the same features, as
  # the README's `cargo run --release`, so that build is reused, not redone.
  say "cargo build --release --workspace --bin warden --bin tickets"
  cargo build --release --locked --workspace --bin warden --bin tickets
  target=${CARGO_TARGET_DIR:-target}
  warden=${WARDEN_BIN:-$target/release/warden}
  tickets=${TICKETS_BIN:-$target/release/tickets}
fi
[[ -x "$warden" && -x "$tickets" ]] || die "no binaries at $warden and $tickets"

# --- processes --------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/warden-demo.XXXXXX")
pids=()
stop() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap stop EXIT
trap 'echo; say "stopping"; exit 0' INT TERM

wait_healthy() {
  local name=$1 url=$2 pid=$3
  for _ in $(seq 1 100); do
    curl -fs -o /dev/null "$url" && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$work/$name.log" >&2; die "$name exited"; }
    sleep 0.1
  done
  cat "$work/$name.log" >&2
  die "$name did not answer $url"
}

warden_port=$(free_port "${DEMO_WARDEN_PORT:-8080}")
tickets_port=$(free_port "${DEMO_TICKETS_PORT:-4001}")
[[ $tickets_port == "$warden_port" ]] && tickets_port=$(free_port $((warden_port + 1)))
WARDEN="http://127.0.0.1:$warden_port"
TICKETS="http://127.0.0.1:$tickets_port"

nats=${DEMO_NATS_URL:-nats://127.0.0.1:4222}
nats_hostport=${nats#nats://}
bus_env=()
if port_open "${nats_hostport##*:}"; then
  bus="$nats"
  # The default broker names (subject prefix `warden`, stream `WARDEN`): the
  # gateway's revocation_feed knows no others.
  bus_env=(WARDEN_EVENTS_URL="$bus")
else
  bus=""
  say "no NATS at $nats: revocations are polled (up to 5 s late) and deleted users keep their tickets"
fi

# The credential for Warden's revocation feed, shared with its verifiers.
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/revocations-token"
chmod 600 "$work/revocations-token"

say "starting Warden on $WARDEN"
env -i PATH="$PATH" HOME="$HOME" RUST_LOG="${RUST_LOG:-warn}" \
  WARDEN_ISSUER="$WARDEN" \
  WARDEN_REVOCATIONS_TOKEN_FILE="$work/revocations-token" \
  "${bus_env[@]}" \
  "$warden" serve --http "127.0.0.1:$warden_port" --grpc 127.0.0.1:0 --data-dir "$work/warden" \
  > "$work/warden.log" 2>&1 &
pids+=($!)
wait_healthy warden "$WARDEN/healthz" "${pids[-1]}"

say "starting tickets on $TICKETS"
tickets_bus=()
if [[ -n $bus ]]; then
  tickets_bus=(TICKETS_EVENTS_URL="$bus")
fi
env -i PATH="$PATH" HOME="$HOME" RUST_LOG="${RUST_LOG:-info}" \
  TICKETS_LISTEN="127.0.0.1:$tickets_port" \
  TICKETS_DATABASE_URL="sqlite://$work/tickets.db" \
  TICKETS_ISSUER="$WARDEN" \
  TICKETS_REVOCATIONS_TOKEN_FILE="$work/revocations-token" \
  "${tickets_bus[@]}" \
  "$tickets" > "$work/tickets.log" 2>&1 &
pids+=($!)
wait_healthy tickets "$TICKETS/healthz" "${pids[-1]}"

GATEWAY=""
if "$warden" gateway --help >/dev/null 2>&1; then
  gateway_port=$(free_port "${DEMO_GATEWAY_PORT:-8000}")
  GATEWAY="http://127.0.0.1:$gateway_port"
  sed -e "s#127.0.0.1:8000#127.0.0.1:$gateway_port#" \
      -e "s#127.0.0.1:8080#127.0.0.1:$warden_port#g" \
      -e "s#127.0.0.1:4001#127.0.0.1:$tickets_port#" \
      examples/demo/gateway.toml > "$work/gateway.toml"
  {
    echo
    echo "# added by examples/demo.sh"
    [[ -n $bus ]] && echo "revocation_feed = \"$bus\""
    echo "service_token_file = \"$work/revocations-token\""
  } > "$work/gateway-extra.toml"
  # Top-level keys must come before the first [[route]] table.
  cat "$work/gateway-extra.toml" "$work/gateway.toml" > "$work/gateway-full.toml"
  say "starting the gateway on $GATEWAY"
  env -i PATH="$PATH" HOME="$HOME" RUST_LOG="${RUST_LOG:-warn}" \
    "$warden" gateway --config "$work/gateway-full.toml" > "$work/gateway.log" 2>&1 &
  pids+=($!)
  # Any answer means it listens; / has no route, so 404 is expected.
  for _ in $(seq 1 100); do
    port_open "$gateway_port" && break
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/gateway.log" >&2; die "the gateway exited"; }
    sleep 0.1
  done
  port_open "$gateway_port" || die "the gateway did not listen on $GATEWAY"
  AUTH="$GATEWAY/auth" API="$GATEWAY"
else
  say "this warden has no 'gateway' subcommand yet: skipping the gateway; the walkthrough talks to Warden and tickets directly"
  AUTH="$WARDEN" API="$TICKETS"
fi

# An admin, for the deletion step (roles admin and user: the gateway's
# tickets route asks for `user`).
admin_email="admin@demo.test" admin_password="demo admin password 1!"
printf '%s\n' "$admin_password" | env -i PATH="$PATH" HOME="$HOME" \
  "$warden" user add --email "$admin_email" --role admin --role user --data-dir "$work/warden" \
  > /dev/null 2>&1 || die "warden user add failed"

# --- walkthrough ------------------------------------------------------------
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }

# call EXPECTED METHOD URL [TOKEN] [JSON]: prints the body; fails on another
# status. (Inside `if walkthrough` errexit is off, hence every `|| return 1`.)
call() {
  local expected=$1 method=$2 url=$3 token=${4:-} body=${5:-}
  local args=(-s -o "$work/body" -w '%{http_code}' -X "$method" "$url")
  [[ -n $token ]] && args+=(-H "authorization: Bearer $token")
  [[ -n $body ]] && args+=(-H 'content-type: application/json' -d "$body")
  local status
  status=$(curl "${args[@]}")
  printf '  %s %s -> %s\n' "$method" "$url" "$status" >&2
  if [[ $status != "$expected" ]]; then
    echo "  expected $expected, got $status: $(cat "$work/body")" >&2
    return 1
  fi
  cat "$work/body"
}

walkthrough() {
  local email="ann-$RANDOM@demo.test" password="correct horse battery staple 9!"
  say "sign up through $AUTH"
  local signup token
  signup=$(call 201 POST "$AUTH/v1/signup" "" "{\"email\":\"$email\",\"password\":\"$password\"}") || return 1
  token=$(json_field access_token <<< "$signup")
  [[ -n $token ]] || { echo "no access token in the sign-up answer" >&2; return 1; }

  say "create a ticket, list, read"
  local ticket id list
  ticket=$(call 201 POST "$API/api/tickets/" "$token" '{"title":"Printer on fire","body":"third floor"}') || return 1
  id=$(json_field id <<< "$ticket")
  list=$(call 200 GET "$API/api/tickets/" "$token") || return 1
  grep -q "$id" <<< "$list" || { echo "  the new ticket is not listed" >&2; return 1; }
  call 200 GET "$API/api/tickets/$id" "$token" > /dev/null || return 1
  call 400 POST "$API/api/tickets/" "$token" '{"title":""}' > /dev/null || return 1

  say "no token: 401"
  call 401 GET "$API/api/tickets/" > /dev/null || return 1

  say "sign out; the same access token is refused"
  call 204 POST "$AUTH/v1/signout" "$token" > /dev/null || return 1
  # Over the bus this is at once; polled, within the feed's 5 s interval.
  local status
  for _ in $(seq 1 70); do
    status=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $token" "$API/api/tickets/")
    [[ $status == 401 ]] && break
    sleep 0.1
  done
  printf '  GET %s (signed out) -> %s\n' "$API/api/tickets/" "$status" >&2
  [[ $status == 401 ]] || { echo "  expected 401 after sign-out" >&2; return 1; }

  if [[ -z $bus ]]; then
    say "no bus: skipping 'a deleted user loses their tickets'"
    return 0
  fi
  say "an admin deletes a user on Warden; the user.deleted event deletes their tickets"
  local bob bob_token bob_id admin list
  bob=$(call 201 POST "$AUTH/v1/signup" "" "{\"email\":\"bob-$RANDOM@demo.test\",\"password\":\"$password\"}") || return 1
  bob_token=$(json_field access_token <<< "$bob")
  bob_id=$(sed -n 's/.*"user":{"id":"\([^"]*\)".*/\1/p' <<< "$bob")
  call 201 POST "$API/api/tickets/" "$bob_token" '{"title":"Bob needs a chair"}' > /dev/null || return 1
  admin=$(call 200 POST "$AUTH/v1/signin" "" "{\"email\":\"$admin_email\",\"password\":\"$admin_password\"}") || return 1
  admin=$(json_field access_token <<< "$admin")
  list=$(call 200 GET "$API/api/tickets/" "$admin") || return 1
  grep -q "Bob needs a chair" <<< "$list" || { echo "  the admin does not see Bob's ticket" >&2; return 1; }
  call 204 DELETE "$AUTH/v1/admin/users/$bob_id" "$admin" > /dev/null || return 1
  for _ in $(seq 1 50); do
    list=$(call 200 GET "$API/api/tickets/" "$admin" 2>/dev/null) || return 1
    grep -q "Bob needs a chair" <<< "$list" || {
      printf '  Bob'"'"'s ticket is gone\n' >&2
      return 0
    }
    sleep 0.1
  done
  echo "  Bob's ticket is still listed 5 s after his deletion" >&2
  return 1
}

if $check; then
  if walkthrough; then
    say "demo check passed"
    exit 0
  fi
  echo "--- warden.log";  tail -n 20 "$work/warden.log" >&2 || true
  echo "--- tickets.log"; tail -n 20 "$work/tickets.log" >&2 || true
  [[ -n $GATEWAY ]] && { echo "--- gateway.log"; tail -n 20 "$work/gateway.log" >&2 || true; }
  die "demo check failed"
fi

cat <<EOF

  Warden    $WARDEN
  tickets   $TICKETS
  gateway   ${GATEWAY:-(not started: this warden has no 'gateway' subcommand)}
  bus       ${bus:-(none: revocations are polled)}
  logs      $work/*.log

Try it (copy line by line):

  TOKEN=\$(curl -s $AUTH/v1/signup -H 'content-type: application/json' \\
    -d '{"email":"you@demo.test","password":"correct horse battery staple 9!"}' \\
    | sed -n 's/.*"access_token":"\\([^"]*\\)".*/\\1/p')
  curl -s $API/api/tickets/ -H "authorization: Bearer \$TOKEN" \\
    -H 'content-type: application/json' -d '{"title":"Printer on fire"}'
  curl -s $API/api/tickets/ -H "authorization: Bearer \$TOKEN"
  curl -s $API/api/tickets/                                  # 401: no token
  curl -s -X POST $AUTH/v1/signout -H "authorization: Bearer \$TOKEN"
  curl -s $API/api/tickets/ -H "authorization: Bearer \$TOKEN"   # 401: signed out

  Admin: $admin_email / $admin_password (sees every ticket;
  DELETE $AUTH/v1/admin/users/<id> deletes a user and their tickets).

Ctrl-C stops everything.
EOF
wait
