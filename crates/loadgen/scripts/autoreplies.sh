#!/usr/bin/env bash
# Inbound webhook -> greeting auto-reply at the mock Graph API (docs/BENCHMARKS.md).
# Run from the repository root after `cargo build --release --bin switchboard --bin switchboard-loadgen`.
# It stops only the processes it started. PORT (default 18081), MOCK_PORT (9900) and B
# (target/release) may be set; the PostgreSQL database is its own (sbbench_<pid>, dropped after).
# NOGREET=1 measures the same load with no auto-reply configured.
# UNPINNED=1 lets the server, the load tool and the mock share both cores.
# LOGF sets the server's log filter: LOGF='warn,sqlx::query=debug' logs every statement with its time.
# WINDOW=1 also prints the server's CPU time and disk writes per reply over 4 s of the
# measured phase (starting 5 s after the server: give the load a warm-up of 2 s or more):
# steadier than throughput on a machine whose speed drifts between runs.
# TOTAL=1 also prints the server's CPU time per reply from the load's start until the
# server is idle again (everything the replies caused done, outgoing webhook deliveries
# included; at most 120 s after the load): what saturation throughput is the inverse of
# when background work lags behind during the load.
# OUTGOING=<URL of a webhook-receiver> registers an outgoing webhook endpoint there for
# every event type before the load (the receiver is given its secret with PUT /secret);
# the address must be allowed by SWITCHBOARD__OUTGOING_WEBHOOKS__ALLOWED_PRIVATE_ADDRESSES.
# Usage: crates/loadgen/scripts/autoreplies.sh sqlite|postgres "<loadgen webhooks load flags>"
set -euo pipefail
B=${B:-target/release}
backend=$1; load=$2
# Command prefixes pinning to core 0 / core 1 (nothing with UNPINNED=1); arrays, not a
# function, so that `$!` is the process itself.
if [ -n "${UNPINNED:-}" ]; then CORE0=() CORE1=(); else CORE0=(taskset -c 0) CORE1=(taskset -c 1); fi
PORT=${PORT:-18081}; MOCK_PORT=${MOCK_PORT:-9900}
dir=$(mktemp -d /tmp/sb-autoreplies.XXXXXX); PIDS=(); PGDB=
stop() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ -z "$PGDB" ] || psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)"
  rm -rf "$dir"
}
trap stop EXIT
if [ "$backend" = sqlite ]; then DB=sqlite://$dir/a.db; else
  PGDB=sbbench_$$; psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $PGDB"
  DB=postgres://postgres@127.0.0.1:5432/$PGDB; fi
export SWITCHBOARD_APP_SECRET=benchsecret SWITCHBOARD_PHONE_NUMBER_ID=100000000000001 \
  SWITCHBOARD_LISTEN=127.0.0.1:$PORT SWITCHBOARD__LOG__FILTER=${LOGF:-warn} SWITCHBOARD_DATABASE_URL=$DB \
  SWITCHBOARD_ACCESS_TOKEN=benchtoken SWITCHBOARD_GRAPH_BASE_URL=http://127.0.0.1:$MOCK_PORT \
  SWITCHBOARD__SENDER__THROUGHPUT_PER_SECOND=0 SWITCHBOARD__SENDER__PAIR_PER_MINUTE=0
${CORE1[@]+"${CORE1[@]}"} $B/switchboard-loadgen mock-graph --listen 127.0.0.1:$MOCK_PORT -q --keep 2000000 & PIDS+=($!)
$B/switchboard migrate >/dev/null
TOKEN=$($B/switchboard agent create --name Bench --email bench@example.com --role admin | grep -o 'sbt_[0-9a-f]*')
${CORE0[@]+"${CORE0[@]}"} $B/switchboard serve & P=$!; PIDS+=($P)
if [ -n "${WINDOW:-}" ]; then (
  received() { curl -s 127.0.0.1:$MOCK_PORT/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["received"])'; }
  sleep 5
  c1=$(awk '{print $14+$15}' /proc/$P/stat); d1=$(awk '/^write_bytes/{print $2}' /proc/$P/io); n1=$(received)
  sleep 4
  c2=$(awk '{print $14+$15}' /proc/$P/stat); d2=$(awk '/^write_bytes/{print $2}' /proc/$P/io); n2=$(received)
  hz=$(getconf CLK_TCK)
  echo "  window:      $(( (n2-n1)/4 )) replies/s; server CPU $(( (c2-c1)*1000000000/hz/(n2-n1) )) ns/reply; disk writes $(( (d2-d1)/(n2-n1) )) bytes/reply"
) & fi
for i in $(seq 50); do curl -sf 127.0.0.1:$PORT/readyz >/dev/null && break; sleep 0.1; done
CH=$(curl -sf -H "Authorization: Bearer $TOKEN" 127.0.0.1:$PORT/api/v1/channels | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
if [ -n "${OUTGOING:-}" ]; then
  SECRET=$(curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d "{\"url\": \"$OUTGOING/hooks\", \"description\": \"benchmark\"}" 127.0.0.1:$PORT/api/v1/admin/webhooks \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
  curl -sf -X PUT --data-binary "$SECRET" "$OUTGOING/secret" >/dev/null
fi
[ -n "${NOGREET:-}" ] || curl -sf -X PUT -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"enabled": true, "text": "Hello {{contact.first_name}}, thanks for writing to {{business.name}}! An agent will be with you shortly."}' \
  127.0.0.1:$PORT/api/v1/admin/channels/$CH/auto-replies/greeting >/dev/null
cpu() { awk '{print $14+$15}' /proc/$P/stat; }
c0=$(cpu)
${CORE1[@]+"${CORE1[@]}"} $B/switchboard-loadgen webhooks --url http://127.0.0.1:$PORT --app-secret benchsecret \
  --phone-number-id 100000000000001 --contacts 5000000 $( [ -z "${NOGREET:-}" ] && echo --replies-from http://127.0.0.1:$MOCK_PORT ) -q $load
if [ -n "${TOTAL:-}" ]; then
  last=$(cpu)
  for _ in $(seq 120); do sleep 1; now=$(cpu); [ $((now - last)) -le 1 ] && break; last=$now; done
  n=$(curl -s 127.0.0.1:$MOCK_PORT/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["received"])')
  echo "  total:       server CPU $(( (now - c0) * 1000000000 / $(getconf CLK_TCK) / n )) ns/reply from the load's start until idle ($n replies)"
fi
