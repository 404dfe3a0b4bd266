#!/usr/bin/env bash
# Outgoing webhooks (docs/BENCHMARKS.md, issue 21): deliveries to a local
# `switchboard-loadgen webhook-receiver`, which verifies every signature with the
# `standardwebhooks` crate, counts duplicates by webhook-id and measures latency from the
# event's recorded time (the body's `timestamp`, written in the change's transaction).
# Run from the repository root after `cargo build --release --bin switchboard --bin switchboard-loadgen`.
# It stops only the processes it started; PORT (18081), RPORT (9910, the receiver),
# MOCK_PORT (9900), B (target/release: the server) and L (B: the load tool and receiver) may be set; the PostgreSQL database is its own
# (sbhooks_<pid>, dropped after). The server runs on core 0, the load tool and the
# receiver on core 1 (UNPINNED=1: both cores for all).
#
#   throughput  inbound messages for SECS (5) seconds from CONTACTS (1000) contacts with the
#               outgoing-webhook worker off (a backlog of events), then the server again
#               with it on: deliveries per second at the receiver until the backlog is
#               drained, then a check that every delivery was received once.
#   latency     the worker on, RATE (500) inbound messages per second for SECS (20) seconds
#               from CONTACTS (200) contacts: event recorded -> received, p50/p99.
#   cost        autoreplies.sh at saturation, alternating PAIRS (3) pairs: no endpoint,
#               then one endpoint subscribed to every event type (WINDOW=1 CPU per reply).
# Usage: crates/loadgen/scripts/outgoing_webhooks.sh sqlite|postgres throughput|latency|cost
set -euo pipefail
B=${B:-target/release}; L=${L:-$B}
backend=$1; mode=$2
if [ -n "${UNPINNED:-}" ]; then CORE0=() CORE1=(); else CORE0=(taskset -c 0) CORE1=(taskset -c 1); fi
PORT=${PORT:-18081}; RPORT=${RPORT:-9910}; MOCK_PORT=${MOCK_PORT:-9900}
RURL=http://127.0.0.1:$RPORT
dir=$(mktemp -d /tmp/sb-hooks.XXXXXX); receiver=; server=; PGDB=
stop_server() { [ -z "$server" ] || { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }; server=; }
stop() {
  stop_server
  [ -z "$receiver" ] || { kill "$receiver" 2>/dev/null || true; wait "$receiver" 2>/dev/null || true; }
  [ -z "$PGDB" ] || psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)"
  rm -rf "$dir"
}
trap stop EXIT
export SWITCHBOARD__OUTGOING_WEBHOOKS__ALLOWED_PRIVATE_ADDRESSES=127.0.0.1
${CORE1[@]+"${CORE1[@]}"} $L/switchboard-loadgen webhook-receiver --listen 127.0.0.1:$RPORT -q & receiver=$!
for _ in $(seq 50); do curl -sf $RURL/healthz >/dev/null && break; sleep 0.1; done
stats() { curl -sf $RURL/stats; }
# field of /stats: stat received
stat() { stats | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

if [ "$mode" = cost ]; then
  pairs=${PAIRS:-3}; load=${LOAD:---concurrency 64 --duration 20s --warmup 2s}
  for i in $(seq "$pairs"); do
    for with in no yes; do
      echo "== pair $i, endpoint: $with ($(uptime | sed 's/.*load/load/'))"
      curl -sf -X POST $RURL/reset >/dev/null
      sync
      if [ $with = yes ]; then
        OUTGOING=$RURL WINDOW=1 TOTAL=1 B=$B PORT=$PORT MOCK_PORT=$MOCK_PORT crates/loadgen/scripts/autoreplies.sh "$backend" "$load" \
          | grep -E 'window|throughput|replies:|reply rate|total:'
        stats | python3 -c 'import json,sys; s=json.load(sys.stdin); r, d, b = s["received"], s["duplicates"], s["bad_signature"]; print(f"  receiver:    {r} received during the run, {d} duplicates, {b} bad signatures")'
      else
        WINDOW=1 TOTAL=1 B=$B PORT=$PORT MOCK_PORT=$MOCK_PORT crates/loadgen/scripts/autoreplies.sh "$backend" "$load" \
          | grep -E 'window|throughput|replies:|reply rate|total:'
      fi
    done
  done
  exit 0
fi

if [ "$backend" = sqlite ]; then DB=sqlite://$dir/a.db; else
  PGDB=sbhooks_$$; psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $PGDB"
  DB=postgres://postgres@127.0.0.1:5432/$PGDB; fi
export SWITCHBOARD_APP_SECRET=benchsecret SWITCHBOARD_PHONE_NUMBER_ID=100000000000001 \
  SWITCHBOARD_LISTEN=127.0.0.1:$PORT SWITCHBOARD__LOG__FILTER=${LOGF:-warn} SWITCHBOARD_DATABASE_URL=$DB
ready() { for _ in $(seq 100); do curl -sf 127.0.0.1:$PORT/readyz >/dev/null && return; sleep 0.1; done; }
pending() { curl -sf 127.0.0.1:$PORT/readyz | python3 -c 'import json,sys; print(json.load(sys.stdin)["event_log"]["pending"])'; }
sql() {
  if [ "$backend" = sqlite ]; then python3 -c "import sqlite3,sys; print(sqlite3.connect('$dir/a.db').execute(sys.argv[1]).fetchone()[0])" "$1"
  else psql -qtA -h 127.0.0.1 -U postgres "$PGDB" -c "$1"; fi
}
$B/switchboard migrate >/dev/null
TOKEN=$($B/switchboard agent create --name Bench --email bench@example.com --role admin | grep -o 'sbt_[0-9a-f]*')
start_server() { ${CORE0[@]+"${CORE0[@]}"} $B/switchboard serve & server=$!; ready; }
endpoint() {
  SECRET=$(curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d "{\"url\": \"$RURL/hooks\", \"description\": \"benchmark\"}" 127.0.0.1:$PORT/api/v1/admin/webhooks \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
  curl -sf -X PUT --data-binary "$SECRET" "$RURL/secret" >/dev/null
}
inbound() { # flags…
  ${CORE1[@]+"${CORE1[@]}"} $L/switchboard-loadgen webhooks --url http://127.0.0.1:$PORT --app-secret benchsecret \
    --phone-number-id 100000000000001 -q --json "$@" | python3 -c 'import json,sys; print(json.load(sys.stdin)["acknowledged"])'
}
report() {
  stats | python3 -c '
import json, sys
s = json.load(sys.stdin); l = s["latency"] or {}
rec, uniq, dup, bad, ver = (s[k] for k in ("received", "unique", "duplicates", "bad_signature", "verifying"))
p50, p90, p99, p999, mx = (l.get(k, 0) for k in ("p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"))
span = ((s["last_at_us"] or 0) - (s["first_at_us"] or 0)) / 1e6
print(f"  receiver:    {rec} received ({uniq} distinct webhook-ids, {dup} duplicates, {bad} bad signatures, verifying: {ver})")
print("  by type:     " + ", ".join(f"{k} {v}" for k, v in sorted(s["by_type"].items())))
print(f"  rate:        {rec / span if span else 0:,.0f} deliveries/s first to last ({span:.2f} s)")
print(f"  latency:     recorded -> received p50 {p50:.1f} ms  p90 {p90:.1f} ms  p99 {p99:.1f} ms  p99.9 {p999:.1f} ms  max {mx:.1f} ms")'
}
# Waits until the receiver has had nothing new for 3 s.
settle() {
  local last=-1 same=0 n
  while [ $same -lt 6 ]; do sleep 0.5; n=$(stat received); if [ "$n" = "$last" ]; then same=$((same + 1)); else same=0; last=$n; fi; done
}
check() {
  stop_server
  echo "  database:    $(sql "SELECT COUNT(*) || ' deliveries, ' || SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END) || ' delivered, ' || COUNT(DISTINCT message_id) || ' messages' FROM webhook_deliveries"); $(sql "SELECT COUNT(*) FROM webhook_attempts") attempts logged"
}

case $mode in
throughput)
  SWITCHBOARD__OUTGOING_WEBHOOKS__ENABLED=false start_server
  endpoint
  acked=$(inbound --concurrency 64 --duration "${SECS:-5}s" --warmup 0s --contacts "${CONTACTS:-1000}")
  while [ "$(pending)" -gt 0 ]; do sleep 0.5; done
  echo "backlog: $acked inbound messages acknowledged and applied, $(sql "SELECT COUNT(*) FROM inbox_events") inbox events, $(sql "SELECT COUNT(*) FROM contact_changes") contact changes"
  stop_server
  curl -sf -X POST $RURL/reset >/dev/null
  t0=$(date +%s.%N)
  start_server
  settle
  report
  python3 -c "print(f'  from start:  {$(stat received) / ($(stat last_at_us) / 1e6 - $t0):,.0f} deliveries/s from the server start to the last delivery')"
  check
  ;;
latency)
  start_server
  endpoint
  curl -sf -X POST $RURL/reset >/dev/null
  acked=$(inbound --rate "${RATE:-500}" --duration "${SECS:-20}s" --warmup 0s --contacts "${CONTACTS:-200}")
  settle
  echo "load: $acked inbound messages acknowledged at ${RATE:-500}/s"
  report
  check
  ;;
*) echo "usage: $0 sqlite|postgres throughput|latency|cost" >&2; exit 2 ;;
esac
