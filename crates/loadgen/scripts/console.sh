#!/usr/bin/env bash
# The console's targets (issue #17): seed a fresh database with 100,000 conversations and
# 1,000,000 messages, start the server on it, then measure page latency (p50/p95/p99 over
# loopback) and webhook acknowledgement -> live update on 200 open streams.
# Run from the repository root after `cargo build --release --bin switchboard --bin switchboard-loadgen`.
# It stops only the processes it started. Settings (environment):
#   B (target/release)  PORT (18082)  CONVS (100000)  MSGS (1000000)  AGENTS (20)
#   REQUESTS (200 per page)  STREAMS (200)  LIVE (300 webhooks)  RATE (10 per second)
#   AS=admin|agent: whose token the pages and streams use (admin: every conversation)
#   EVENTS: the live endpoint the streams open (default /api/v1/events; the console's own
#     once it exists). COOKIE: a console session cookie (`name=value`) to send.
#   PAGES: space-separated paths to measure; {THREAD} is the 1,000-message conversation's
#     id, {LABEL} a label's. The default measures the API routes the console pages are
#     built on: the inbox (open and pending), its counts, the unassigned queue (longest
#     waiting), a label's view, and the long thread (its last 100 and its 500 newest).
#   UNPINNED=1 lets the server and the load tool share both cores (by default the server
#     runs on core 0, the tool on core 1).
# Usage: crates/loadgen/scripts/console.sh [sqlite|postgres]
set -euo pipefail
B=${B:-target/release}
backend=${1:-sqlite}
if [ -n "${UNPINNED:-}" ]; then CORE0=() CORE1=(); else CORE0=(taskset -c 0) CORE1=(taskset -c 1); fi
PORT=${PORT:-18082}
dir=$(mktemp -d /tmp/sb-console.XXXXXX); PIDS=(); PGDB=
stop() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ -z "$PGDB" ] || psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)"
  rm -rf "$dir"
}
trap stop EXIT
if [ "$backend" = sqlite ]; then DB=sqlite://$dir/console.db; else
  PGDB=sbconsole_$$; psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $PGDB"
  DB=postgres://postgres@127.0.0.1:5432/$PGDB; fi
export SWITCHBOARD_APP_SECRET=benchsecret SWITCHBOARD_PHONE_NUMBER_ID=100000000000001 \
  SWITCHBOARD_LISTEN=127.0.0.1:$PORT SWITCHBOARD__LOG__FILTER=${LOGF:-warn} SWITCHBOARD_DATABASE_URL=$DB

$B/switchboard migrate >/dev/null
echo "seeding $backend: ${CONVS:-100000} conversations, ${MSGS:-1000000} messages"
$B/switchboard-loadgen seed-console --db "$DB" --conversations "${CONVS:-100000}" \
  --messages "${MSGS:-1000000}" --agents "${AGENTS:-20}" > "$dir/seed.txt"
grep '^seeded' "$dir/seed.txt"
[ "$backend" = sqlite ] && echo "database: $(du -sh "$dir" | cut -f1)"
val() { sed -n "s/^$1=//p" "$dir/seed.txt"; }
THREAD=$(val THREAD); LABEL=$(val LABEL)
if [ "${AS:-admin}" = agent ]; then TOKEN=$(val AGENT_TOKEN); else TOKEN=$(val ADMIN_TOKEN); fi

${CORE0[@]+"${CORE0[@]}"} $B/switchboard serve & PIDS+=($!)
for _ in $(seq 100); do curl -sf 127.0.0.1:$PORT/readyz >/dev/null && break; sleep 0.1; done
curl -sf 127.0.0.1:$PORT/readyz >/dev/null

DEFAULT_PAGES="/api/v1/conversations?status=open,pending&limit=50 /api/v1/conversations/counts \
/api/v1/conversations?status=open&assignee=unassigned&sort=waiting&limit=50 \
/api/v1/conversations?label={LABEL}&limit=50 /api/v1/conversations/{THREAD}/messages?limit=100 \
/api/v1/conversations/{THREAD}/messages?limit=500"
page_args=()
for p in ${PAGES:-$DEFAULT_PAGES}; do
  p=${p//\{THREAD\}/$THREAD}; p=${p//\{LABEL\}/$LABEL}
  page_args+=(--page "$p")
done
cookie_args=(); [ -z "${COOKIE:-}" ] || cookie_args=(--cookie "$COOKIE")
${CORE1[@]+"${CORE1[@]}"} $B/switchboard-loadgen console --base http://127.0.0.1:$PORT --token "$TOKEN" \
  ${cookie_args[@]+"${cookie_args[@]}"} "${page_args[@]}" --requests "${REQUESTS:-200}" \
  --events "${EVENTS:-/api/v1/events}" --streams "${STREAMS:-200}" --messages "${LIVE:-300}" \
  --rate "${RATE:-10}" --app-secret benchsecret --phone-number-id 100000000000001
