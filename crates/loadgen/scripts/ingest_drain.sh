#!/usr/bin/env bash
# Ingest drain rate (docs/BENCHMARKS.md, issue 2): builds a backlog of signed text
# webhooks with the ingest worker off, restarts the server with it on, and prints the
# messages applied per second (the fall of `event_log.pending` on /readyz); then checks
# in the database that every acknowledged message was stored exactly once.
# Run from the repository root after `cargo build --release --bin switchboard --bin switchboard-loadgen`.
# It stops only the servers it started; PORT (default 18081) and B (target/release) may be set;
# the PostgreSQL database is its own (sbdrain_<pid>, dropped after).
# Usage: crates/loadgen/scripts/ingest_drain.sh sqlite|postgres [seconds of load] [distinct contacts]
set -euo pipefail
B=${B:-target/release}
backend=$1; secs=${2:-10}; contacts=${3:-1000}
PORT=${PORT:-18081}
dir=$(mktemp -d /tmp/sb-drain.XXXXXX); PGDB=; server=
stop() {
  [ -z "$server" ] || { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
  [ -z "$PGDB" ] || psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)"
  rm -rf "$dir"
}
trap stop EXIT
if [ "$backend" = sqlite ]; then DB=sqlite://$dir/a.db; else
  PGDB=sbdrain_$$; psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $PGDB"
  DB=postgres://postgres@127.0.0.1:5432/$PGDB; fi
export SWITCHBOARD_APP_SECRET=benchsecret SWITCHBOARD_PHONE_NUMBER_ID=100000000000001 \
  SWITCHBOARD_LISTEN=127.0.0.1:$PORT SWITCHBOARD__LOG__FILTER=warn SWITCHBOARD_DATABASE_URL=$DB
ready() { for _ in $(seq 100); do curl -sf 127.0.0.1:$PORT/readyz >/dev/null && return; sleep 0.1; done; }
pending() { curl -sf 127.0.0.1:$PORT/readyz | python3 -c 'import json,sys; print(json.load(sys.stdin)["event_log"]["pending"])'; }

SWITCHBOARD__INGEST__ENABLED=false taskset -c 0 $B/switchboard serve & server=$!
ready
acked=$(taskset -c 1 $B/switchboard-loadgen webhooks --url http://127.0.0.1:$PORT --app-secret benchsecret \
  --phone-number-id 100000000000001 --concurrency 64 --duration "${secs}s" --warmup 0s --contacts "$contacts" -q --json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["acknowledged"])')
kill $server; wait $server || true

taskset -c 0 $B/switchboard serve & server=$!
ready
start=$(date +%s.%N); first=$(pending); now=$start; left=$first
while [ "$left" -gt 0 ]; do sleep 0.5; now=$(date +%s.%N); left=$(pending); done
python3 -c "n=$first; t=$now-$start; print(f'drained {n} deliveries in {t:.2f} s: {n/t:,.0f} messages/s')"
kill $server; wait $server || true; server=
count="SELECT COUNT(*) || ' ' || COUNT(DISTINCT wamid) FROM messages WHERE direction = 'inbound'"
if [ "$backend" = sqlite ]; then stored=$(python3 -c "import sqlite3; print(sqlite3.connect('$dir/a.db').execute(\"$count\").fetchone()[0])")
else stored=$(psql -qtA -h 127.0.0.1 -U postgres $PGDB -c "$count"); fi
echo "acknowledged $acked; stored (rows, distinct wamids): $stored"
