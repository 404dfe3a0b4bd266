#!/usr/bin/env bash
# The retention target (issue #20, point 3): acknowledgement p99 stays under 10 ms at
# 1,000 webhooks/s while a retention purge of 1,000,000 messages runs.
#
# Seeds a fresh database (`seed-console --age-days AGE`: every conversation resolved more
# than AGE days ago), then, with the server on core 0 and the load on core 1:
#   1. baseline: the server without a retention policy, `loadgen webhooks --rate RATE`;
#   2. purge: a policy of AGE-1 days set on every channel through
#      PUT /api/v1/admin/channels/{id}/retention (the dry run printed), the server
#      restarted (the housekeeping pass runs at start, so the purge begins at once) and the
#      same load.
# Each run prints the acknowledgement p50/p99/max; the purge run also samples the messages
# the policy still has to remove (the resolved conversations' `message_count`, every
# SAMPLE seconds), and prints the purge rate and, if it finished, when.
# Run from the repository root after `cargo build --release --bin switchboard --bin switchboard-loadgen`.
# It stops only the processes it started. Settings (environment):
#   B (target/release: the server)  L (B: switchboard-loadgen)  PORT (18084)
#   CONVS (100000)  MSGS (1000000)  AGE (31 days)  RATE (1000/s)  DURATION (60s)  SAMPLE (5 s)
#   PURGE=1 only the purge run, PURGE=0 only the baseline (default: both, baseline first)
#   KEEP=1 keeps the SQLite file / PostgreSQL database (and prints where).
#   FROM=<directory kept by a `KEEP=1 PURGE=0` run> (SQLite): starts from a copy of its
#   database (as its baseline left it: the load's conversations are open, kept by the purge)
#   instead of seeding.
# Usage: crates/loadgen/scripts/retention_load.sh [sqlite|postgres]
set -euo pipefail
B=${B:-target/release}; L=${L:-$B}
backend=${1:-sqlite}
PORT=${PORT:-18084}
AGE=${AGE:-31}; RATE=${RATE:-1000}; DURATION=${DURATION:-60s}; SAMPLE=${SAMPLE:-5}
dir=$(mktemp -d /tmp/sb-retention.XXXXXX); server=; sampler=; PGDB=
stop_server() {
  [ -z "$server" ] || { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
  server=
}
stop() {
  [ -z "$sampler" ] || { kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; }
  stop_server
  if [ -z "${KEEP:-}" ]; then
    [ -z "$PGDB" ] || psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)"
    rm -rf "$dir"
  else echo "kept: $DB (server log: $dir/server.log)"; fi
}
trap stop EXIT
if [ "$backend" = sqlite ]; then DB=sqlite://$dir/retention.db; else
  PGDB=sbretention_$$; psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $PGDB"
  DB=postgres://postgres@127.0.0.1:5432/$PGDB; fi
export SWITCHBOARD_APP_SECRET=benchsecret SWITCHBOARD_PHONE_NUMBER_ID=100000000000001 \
  SWITCHBOARD_LISTEN=127.0.0.1:$PORT SWITCHBOARD_DATABASE_URL=$DB SWITCHBOARD__WHATSAPP__SANDBOX=true SWITCHBOARD__MEDIA__DIR=$dir/media \
  SWITCHBOARD__LOG__FILTER=${LOGF:-warn,switchboard_core::housekeeping=info}

# One SQL answer, from outside the server (a reader: it takes no write lock).
sql() {
  if [ "$backend" = sqlite ]; then sqlite3 -cmd '.timeout 5000' "$dir/retention.db" "$1"
  else psql -qtA -h 127.0.0.1 -U postgres "$PGDB" -c "$1"; fi
}
# Messages the policy still has to remove: the seeded conversations are all resolved, the
# load's are open.
LEFT="SELECT COALESCE(SUM(message_count), 0) FROM conversations WHERE status = 'resolved' AND purged_at IS NULL"

start_server() {
  taskset -c 0 "$B/switchboard" serve 2>>"$dir/server.log" & server=$!
  for _ in $(seq 300); do curl -sf "127.0.0.1:$PORT/readyz" >/dev/null && return; sleep 0.1; done
  curl -sf "127.0.0.1:$PORT/readyz" >/dev/null
}
load() { # label
  taskset -c 1 "$L/switchboard-loadgen" webhooks --url "http://127.0.0.1:$PORT" --rate "$RATE" \
    --duration "$DURATION" --json 2>"$dir/load-$1.log" >"$dir/load-$1.json"
  python3 - "$1" "$dir/load-$1.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[2])); l = s["latency_ms"]
print(f"{sys.argv[1]:>8}: {s['acknowledged']} acknowledged at {s['acked_webhooks_per_s']:.0f}/s, "
      f"p50 {l['p50_ms']:.2f} ms  p99 {l['p99_ms']:.2f} ms  p99.9 {l['p999_ms']:.2f} ms  max {l['max_ms']:.2f} ms"
      f"  (not 200: {sum(s['other_status'].values())}, errors: {s['errors']}, unsent: {s.get('unsent', 0)})")
EOF
}

if [ -n "${FROM:-}" ]; then
  echo "copying the seeded database of $FROM"
  cp "$FROM/retention.db" "$FROM/seed.txt" "$dir/"
  "$B/switchboard" migrate >/dev/null
else
  "$B/switchboard" migrate >/dev/null
  echo "seeding $backend: ${CONVS:-100000} conversations, ${MSGS:-1000000} messages, resolved over $AGE days ago"
  "$L/switchboard-loadgen" seed-console --db "$DB" --conversations "${CONVS:-100000}" \
    --messages "${MSGS:-1000000}" --age-days "$AGE" >"$dir/seed.txt"
fi
grep '^seeded' "$dir/seed.txt" || true
[ "$backend" = sqlite ] && echo "database: $(du -sh "$dir" | cut -f1)"
ADMIN=$(sed -n 's/^ADMIN_TOKEN=//p' "$dir/seed.txt")
api() { curl -sf -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' "$@"; }
echo "uptime: $(uptime)"

if [ "${PURGE:-}" != 1 ]; then
  start_server
  load baseline
  stop_server
fi
[ "${PURGE:-}" = 0 ] && exit 0

# The policy, through the API; the pass at the next start applies it.
start_server
for ch in $(api "127.0.0.1:$PORT/api/v1/channels" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for c in (d["items"] if isinstance(d, dict) else d): print(c["id"])'); do
  api -X PUT "127.0.0.1:$PORT/api/v1/admin/channels/$ch/retention" -d "{\"conversations_days\": $((AGE - 1))}" >/dev/null
done
echo "dry run: $(api "127.0.0.1:$PORT/api/v1/admin/retention/preview")"
stop_server
before=$(sql "$LEFT")
: >"$dir/samples"
t0=$(date +%s.%N)
start_server
( while :; do echo "$(date +%s.%N) $(sql "$LEFT")" >>"$dir/samples"; sleep "$SAMPLE"; done ) & sampler=$!
tl=$(date +%s.%N)
load purge
t1=$(date +%s.%N)
kill "$sampler"; wait "$sampler" 2>/dev/null || true; sampler=
left=$(sql "$LEFT")
# The pass logs one `housekeeping` line when it ends (a later pass finds nothing).
[ "$left" -gt 0 ] || for _ in $(seq 10); do grep -q 'retention_messages' "$dir/server.log" && break; sleep 1; done
stop_server
sed 's/\x1b\[[0-9;]*m//g' "$dir/server.log" | grep 'retention_messages' | tail -1 >"$dir/done.log" || true
python3 - "$before" "$left" "$t0" "$tl" "$t1" "$dir/samples" "$dir/done.log" <<'EOF'
import re, sys
from datetime import datetime
before, left = int(sys.argv[1]), int(sys.argv[2])
t0, tl, t1 = map(float, sys.argv[3:6])
samples = [tuple(map(float, l.split())) for l in open(sys.argv[6]) if len(l.split()) == 2]
line = open(sys.argv[7]).read().strip()
print(f"   purge: server started at 0 s, load from {tl - t0:.1f} s to {t1 - t0:.1f} s; "
      f"{before - left:,} of {before:,} messages removed by then ({left:,} left)")
if line:
    at = datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()
    n = int(re.search(r"retention_messages=(\d+)", line).group(1))
    print(f"          the pass ended at {at - t0:.1f} s: {n:,} messages, "
          f"{n / (at - t0):,.0f} messages/s (from the server's start, its other steps included)")
elif len(samples) >= 2:
    (ta, na), (tb, nb) = samples[0], samples[-1]
    print(f"          still running at the end; rate while sampled: {(na - nb) / (tb - ta):,.0f} messages/s")
EOF
echo "uptime: $(uptime)"
