#!/usr/bin/env bash
# Two `switchboard serve` instances on one fresh PostgreSQL database, a greeting for every
# new contact, N deliveries of new contacts spread over both, one instance killed with
# `kill -9` mid-burst, Meta re-delivering what was not acknowledged to the survivor, and
# (unless STATUSES=0) the mock Graph API posting each accepted send's `sent` status to a
# live instance. Reports, per run, customers greeted and customers greeted twice
# (docs/BENCHMARKS.md).
# Run from the repository root after
#   cargo build --release --bin switchboard --bin switchboard-loadgen
# Usage: crates/loadgen/scripts/two_instance_kill.sh [RUNS]
# Settings (environment): N=1200 deliveries, RATE=200 deliveries/s, KILL_AT=N/RATE/2 s after
# the first delivery, LEASE=5 (sender.lease_secs), GRACE=5 (sender.reconcile_grace_secs),
# LATENCY=50ms (the mock's answer time), STATUS_DELAY=100ms, STATUSES=1,
# B=the binaries' directory (default $CARGO_TARGET_DIR/release, else target/release).
# It starts its own processes and database and stops only those (by PID), never others.
set -euo pipefail
B=${B:-${CARGO_TARGET_DIR:-target}/release}
RUNS=${1:-1} N=${N:-1200} RATE=${RATE:-200} LEASE=${LEASE:-5} GRACE=${GRACE:-5}
LATENCY=${LATENCY:-50ms} STATUS_DELAY=${STATUS_DELAY:-100ms} STATUSES=${STATUSES:-1}
KILL_AT=${KILL_AT:-$(python3 -c "print($N / $RATE / 2)")}
HERE=$(cd "$(dirname "$0")" && pwd)
PIDS=() DBNAME= LOGS=$(mktemp -d /tmp/sb-kill.XXXXXX)
stop() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  PIDS=()
  [ -z "$DBNAME" ] || psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $DBNAME WITH (FORCE)" >/dev/null
  DBNAME=
}
trap 'stop; rm -rf "$LOGS"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
stats() { curl -sf "$MOCK/stats?by_to=1"; }
outbox() { psql -qtA -h 127.0.0.1 -U postgres -d "$DBNAME" -c "$1"; }

echo "N=$N RATE=$RATE/s KILL_AT=${KILL_AT}s LEASE=${LEASE}s GRACE=${GRACE}s mock latency $LATENCY, statuses $([ "$STATUSES" = 1 ] && echo "on (delay $STATUS_DELAY)" || echo off)"
for run in $(seq "$RUNS"); do
  DBNAME=sbkill_$$_${run}_$(date +%s)
  psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $DBNAME"
  PA=$(free_port) PB=$(free_port) PM=$(free_port)
  A=http://127.0.0.1:$PA BB=http://127.0.0.1:$PB MOCK=http://127.0.0.1:$PM
  export SWITCHBOARD_APP_SECRET=benchsecret SWITCHBOARD_PHONE_NUMBER_ID=100000000000001 \
    SWITCHBOARD__LOG__FILTER=${LOGF:-error,switchboard_store_postgres::outbox=info} SWITCHBOARD_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DBNAME \
    SWITCHBOARD_ACCESS_TOKEN=benchtoken SWITCHBOARD_GRAPH_BASE_URL=$MOCK \
    SWITCHBOARD__SENDER__THROUGHPUT_PER_SECOND=0 SWITCHBOARD__SENDER__PAIR_PER_MINUTE=0 \
    SWITCHBOARD__SENDER__LEASE_SECS=$LEASE SWITCHBOARD__SENDER__RECONCILE_GRACE_SECS=$GRACE
  status_flags=()
  [ "$STATUSES" != 1 ] || status_flags=(--status-webhook "$A" --status-webhook "$BB" --status-delay "$STATUS_DELAY")
  $B/switchboard-loadgen mock-graph --listen 127.0.0.1:$PM -q --latency "$LATENCY" "${status_flags[@]}" 2>/dev/null &
  PIDS+=($!)
  $B/switchboard migrate >/dev/null
  TOKEN=$($B/switchboard agent create --name Bench --email bench@example.com --role admin 2>/dev/null | grep -o 'sbt_[0-9a-f]*')
  SWITCHBOARD_LISTEN=127.0.0.1:$PA $B/switchboard serve >"$LOGS/a.log" 2>&1 & PID_A=$!; PIDS+=($PID_A)
  SWITCHBOARD_LISTEN=127.0.0.1:$PB $B/switchboard serve >"$LOGS/b.log" 2>&1 & PIDS+=($!)
  for url in $A $BB; do
    for i in $(seq 100); do curl -sf $url/readyz >/dev/null && break; sleep 0.1; done
  done
  CH=$(curl -sf -H "Authorization: Bearer $TOKEN" $A/api/v1/channels | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
  curl -sf -X PUT -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d '{"enabled": true, "text": "Hello {{contact.first_name}}, thanks for writing to {{business.name}}! An agent will be with you shortly."}' \
    $A/api/v1/admin/channels/$CH/auto-replies/greeting >/dev/null
  RUN_DIGITS=$(printf '%06d' $(( (RANDOM << 15 | RANDOM) % 1000000 )))
  python3 "$HERE/deliver.py" "$N" "$RATE" "$RUN_DIGITS" "$A" "$BB" > "$LOGS/deliver.json" &
  DELIVER=$!
  sleep "$KILL_AT"
  sent_before_kill=$(stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["received"])')
  killed_us=$(($(date +%s%N) / 1000))
  kill -9 "$PID_A"; wait "$PID_A" 2>/dev/null || true
  wait "$DELIVER"
  delivered=$(cat "$LOGS/deliver.json")
  # Every contact greeted, and no job left to send (a job of the dead instance comes back
  # after the lease and the grace).
  greeted=0 t0=$(date +%s)
  while [ $(( $(date +%s) - t0 )) -lt 180 ]; do
    greeted=$(stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["recipients"])')
    pending=$(outbox "SELECT count(*) FROM outbox WHERE state = 'ready'")
    [ "$greeted" -ge "$N" ] && [ "$pending" = 0 ] && break
    sleep 1
  done
  waited=$(( $(date +%s) - t0 ))
  sleep 2  # late sends
  result=$(stats | python3 -c '
import json, sys
s = json.load(sys.stdin)
counts = s["by_to"].values()
twice, extra = sum(c > 1 for c in counts), sum(c - 1 for c in counts if c > 1)
print("greeted %d, greeted twice %d (extra sends %d), sends %d, statuses posted %d refused %d given up %d" % (
    s["recipients"], twice, extra, s["received"], s["statuses_posted"], s["statuses_refused"], s["statuses_given_up"]))')
  # When the second sends went out, in seconds after the kill.
  late=$(curl -sf "$MOCK/recent?limit=100000" | python3 -c '
import json, sys
seen, after = set(), []
for r in json.load(sys.stdin):
    if r["status"] != 200: continue
    if r["to"] in seen: after.append((r["at_us"] - int(sys.argv[1])) / 1e6)
    seen.add(r["to"])
print("second sends %.1f-%.1f s after the kill" % (min(after), max(after)) if after else "no second sends")' "$killed_us")
  jobs=$(outbox "SELECT coalesce(string_agg(state || ' ' || n, ', '), 'none') FROM (SELECT state, count(*) n FROM outbox GROUP BY state) s")
  # Sends whose outcome was never recorded, recorded from their status (server log, info).
  reconciled() { grep -c 'send recorded from its status webhook' "$LOGS/$1.log" || true; }
  echo "run $run: $result; recorded from a status: killed $(reconciled a), survivor $(reconciled b); $late; sends before the kill $sent_before_kill; deliveries $delivered; outbox jobs left: $jobs; settled ${waited}s after the burst"
  stop
done
