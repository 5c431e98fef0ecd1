#!/usr/bin/env bash
# The admin console's user list with 100,000 users (issue 20): a release
# `warden serve` on a fresh database of the given backend, 100,000 users
# bulk-inserted with one SQL statement, then wrk (Debian package `wrk`)
# with an admin's access cookie on
#   - GET /admin/users              (the first page: 50 users by id)
#   - GET /admin/users?q=<term>     (searches by address or name: rare,
#                                    a name, common)
# Usage: bench/admin.sh [sqlite|postgres|mysql] [seconds]
# PostgreSQL and MariaDB are the local servers of the guide (a database of
# their own, dropped at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
secs=${2:-10}
conns=${CONNS:-4}
users=${USERS:-100000}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/warden-target}"
cargo build --release -q -p warden
bin="$CARGO_TARGET_DIR/release/warden"
data=$(mktemp -d)
port=18493
base="http://127.0.0.1:$port"
db="warden_bench_$$"
kek=$(head -c 32 /dev/urandom | base64 -w0)
. bench/lib.sh
url=$(fresh_database "$backend" "$db" "$data") ||
  { echo "usage: $0 [sqlite|postgres|mysql] [seconds]" >&2; exit 2; }
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  drop_database "$backend" "$db"
  rm -rf "$data"
}
pid=
trap cleanup EXIT
export WARDEN_KEYS_ENCRYPTION_KEY="$kek" WARDEN_DATABASE_URL="$url" WARDEN_ISSUER="$base"
email="admin-$$@bench.example"
password="a long admin passphrase 42"
echo "$password" | "$bin" user add --data-dir "$data" --email "$email" --role admin --role user >/dev/null 2>&1
WARDEN_LOG_LEVEL=warn "$bin" serve --http "127.0.0.1:$port" --grpc 127.0.0.1:0 --data-dir "$data" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done

# The same columns on every backend; ids in insertion order (so the first
# page is a range scan of the primary key, as with real UUIDv7 ids), a
# stand-in password hash (these users never sign in) and their skeleton
# set, as sign-up would.
now_ms=$(date +%s%3N)
insert="INSERT INTO user_account (user_id, email, username, password_hash, roles, status, created_at, email_verified, has_password, email_skeleton)"
hash='$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0$YmVuY2hoYXNoYmVuY2hoYXNo'
started=$(date +%s.%N)
case "$backend" in
  postgres)
    psql -q -h 127.0.0.1 -U postgres -d "$db" <<SQL
$insert
SELECT lpad(to_hex(n), 8, '0') || '-0000-7000-8000-' || lpad(to_hex(n), 12, '0'),
       'user-' || n || '@bench.example', 'Bench User ' || n, '$hash', '["user"]', 'active',
       $now_ms, TRUE, TRUE, 'user-' || n || '@bench.example'
FROM generate_series(1, $users) AS n;
ANALYZE user_account;
SQL
    ;;
  mysql)
    mysql -h 127.0.0.1 -u root "$db" <<SQL
SET SESSION max_recursive_iterations = 1000000;
$insert
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $users)
SELECT CONCAT(LOWER(LPAD(HEX(n), 8, '0')), '-0000-7000-8000-', LOWER(LPAD(HEX(n), 12, '0'))),
       CONCAT('user-', n, '@bench.example'), CONCAT('Bench User ', n), '$hash', '["user"]', 'active',
       $now_ms, TRUE, TRUE, CONCAT('user-', n, '@bench.example')
FROM seq;
SQL
    # The search trigrams of these accounts, with the statement that fills
    # them for existing accounts in the migration (sign-up writes its own,
    # so the admin's are there already: IGNORE).
    sed -n '/^INSERT INTO user_search_gram/,$p' crates/store/migrations/mysql/0014_user_search.sql |
      sed 's/^INSERT INTO/INSERT IGNORE INTO/' | mysql -h 127.0.0.1 -u root "$db"
    mysql -h 127.0.0.1 -u root "$db" -e "ANALYZE TABLE user_account, user_search_gram" >/dev/null
    ;;
  sqlite)
    sqlite3 "$data/warden.db" <<SQL
PRAGMA busy_timeout = 10000;
$insert
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $users)
SELECT printf('%08x', n) || '-0000-7000-8000-' || printf('%012x', n),
       'user-' || n || '@bench.example', 'Bench User ' || n, '$hash', '["user"]', 'active',
       $now_ms, 1, 1, 'user-' || n || '@bench.example'
FROM seq;
ANALYZE;
SQL
    ;;
esac
echo "== $backend: $users users inserted in $(echo "$(date +%s.%N) - $started" | bc) s"

access=$(curl -fs "$base/v1/signin" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
cookie="Cookie: __Host-warden_at=$access"
count=$(curl -fs -H "$cookie" "$base/admin/users" | grep -o 'href="/admin/users/' | wc -l)
found=$(curl -fs -H "$cookie" "$base/admin/users?q=user-77777%40" | grep -o 'href="/admin/users/' | wc -l)
echo "first page lists $count users; the search finds $found"

echo "== GET /admin/users, first page ($conns connections)"
wrk -t1 -c"$conns" -d"${secs}s" --latency -H "$cookie" "$base/admin/users"
# A rare term (one account), a name, a term every account matches and one
# that a tenth match: the index answers the first two, the walk in id
# order the others.
for term in "user-77777%40" "bench%20user%2012345" "bench" "user-7"; do
  echo "== GET /admin/users?q=$term (search, $conns connections)"
  wrk -t1 -c"$conns" -d"${secs}s" --latency -H "$cookie" "$base/admin/users?q=$term"
done
