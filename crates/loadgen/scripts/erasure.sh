#!/usr/bin/env bash
# The erasure target (issue #20): erasing a contact with 10,000 messages takes under 2 s.
# Seeds a fresh database (`seed-console`: the first conversation, the long thread, holds
# THREAD messages of one contact), starts the server on core 0 and times
# POST /api/v1/contacts/{id}/erase with curl on core 1, from the request to the answer
# (the job `done`), RUNS times, each on a database of its own, freshly seeded.
# Run from the repository root after `cargo build --release --bin switchboard --bin switchboard-loadgen`.
# It stops only the processes it started. Settings (environment):
#   B (target/release: the server)  L (B: switchboard-loadgen)  PORT (18085)
#   THREAD (10000)  CONVS (2)  MSGS (THREAD + CONVS)  RUNS (3)
# Usage: crates/loadgen/scripts/erasure.sh [sqlite|postgres]
set -euo pipefail
B=${B:-target/release}; L=${L:-$B}
backend=${1:-sqlite}
PORT=${PORT:-18085}
THREAD=${THREAD:-10000}; CONVS=${CONVS:-2}; MSGS=${MSGS:-$((THREAD + CONVS))}
dir=; server=; PGDB=
cleanup() {
  [ -z "$server" ] || { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
  server=
  [ -z "$PGDB" ] || psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)"
  PGDB=
  [ -z "$dir" ] || rm -rf "$dir"
  dir=
}
trap cleanup EXIT
export SWITCHBOARD_APP_SECRET=benchsecret SWITCHBOARD_PHONE_NUMBER_ID=100000000000001 \
  SWITCHBOARD_LISTEN=127.0.0.1:$PORT SWITCHBOARD__LOG__FILTER=${LOGF:-warn} SWITCHBOARD__WHATSAPP__SANDBOX=true
echo "uptime: $(uptime)"
for run in $(seq "${RUNS:-3}"); do
  dir=$(mktemp -d /tmp/sb-erasure.XXXXXX)
  if [ "$backend" = sqlite ]; then DB=sqlite://$dir/erasure.db; else
    PGDB=sberasure_$$_$run; psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $PGDB"
    DB=postgres://postgres@127.0.0.1:5432/$PGDB; fi
  export SWITCHBOARD_DATABASE_URL=$DB SWITCHBOARD__MEDIA__DIR=$dir/media
  "$B/switchboard" migrate >/dev/null
  "$L/switchboard-loadgen" seed-console --db "$DB" --conversations "$CONVS" --messages "$MSGS" \
    --thread "$THREAD" --agents 1 >"$dir/seed.txt" 2>/dev/null
  ADMIN=$(sed -n 's/^ADMIN_TOKEN=//p' "$dir/seed.txt"); CONV=$(sed -n 's/^THREAD=//p' "$dir/seed.txt")
  taskset -c 0 "$B/switchboard" serve 2>"$dir/server.log" & server=$!
  for _ in $(seq 300); do curl -sf "127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
  contact=$(curl -sf -H "Authorization: Bearer $ADMIN" "127.0.0.1:$PORT/api/v1/conversations/$CONV" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["contact"]["id"])')
  taskset -c 1 curl -s -o "$dir/job.json" -w '%{http_code} %{time_total}\n' -X POST \
    -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d '{}' \
    "127.0.0.1:$PORT/api/v1/contacts/$contact/erase" >"$dir/timing"
  python3 - "$backend" "$run" "$dir/timing" "$dir/job.json" <<'EOF'
import json, sys
code, secs = open(sys.argv[3]).read().split()
job = json.load(open(sys.argv[4]))
print(f"{sys.argv[1]} run {sys.argv[2]}: HTTP {code}, {float(secs) * 1000:.0f} ms, "
      f"state {job.get('state')}, {job.get('messages')} messages, {job.get('events')} webhook bodies")
EOF
  cleanup
done
echo "uptime: $(uptime)"
