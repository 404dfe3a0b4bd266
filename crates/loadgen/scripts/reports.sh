#!/usr/bin/env bash
# The reports' target (issue #19): a report over 1,000,000 conversations answers in under
# 500 ms on both backends. Seeds a fresh database (`seed-console`, KPI facts included),
# starts the server on it, then times each report URL over loopback with curl (server on
# core 0, curl on core 1) and the full CSV export once.
# Run from the repository root after `cargo build --release --bin switchboard --bin switchboard-loadgen`.
# It stops only the processes it started. Settings (environment):
#   B (target/release)  PORT (18083)  CONVS (1000000)  MSGS (2500000)  REQUESTS (20 per URL)
#   KEEP=1 keeps the SQLite file / PostgreSQL database and its seed.txt (and prints where).
#   DB=<url of a kept database> [SEED=<its seed.txt>] times that one again (migrated to this
#   build, not seeded, not dropped); SEED defaults to the seed.txt beside a SQLite file.
# Usage: crates/loadgen/scripts/reports.sh [sqlite|postgres]
set -euo pipefail
B=${B:-target/release}
backend=${1:-sqlite}
PORT=${PORT:-18083}
dir=$(mktemp -d /tmp/sb-reports.XXXXXX); PIDS=(); PGDB=; REUSE=${DB:-}
stop() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "$REUSE" ]; then rm -rf "$dir"
  elif [ -z "${KEEP:-}" ]; then
    [ -z "$PGDB" ] || psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)"
    rm -rf "$dir"
  else echo "kept: DB=$DB SEED=$dir/seed.txt"; fi
}
trap stop EXIT
if [ -n "$REUSE" ]; then
  SEED=${SEED:-$(dirname "${DB#sqlite://}")/seed.txt}; cp "$SEED" "$dir/seed.txt"
elif [ "$backend" = sqlite ]; then DB=sqlite://$dir/reports.db; else
  PGDB=sbreports_$$; psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $PGDB"
  DB=postgres://postgres@127.0.0.1:5432/$PGDB; fi
export SWITCHBOARD_APP_SECRET=benchsecret SWITCHBOARD_PHONE_NUMBER_ID=100000000000001 \
  SWITCHBOARD_LISTEN=127.0.0.1:$PORT SWITCHBOARD__LOG__FILTER=${LOGF:-warn} SWITCHBOARD_DATABASE_URL=$DB \
  SWITCHBOARD__WHATSAPP__SANDBOX=true

$B/switchboard migrate >/dev/null
if [ -z "$REUSE" ]; then
  echo "seeding $backend: ${CONVS:-1000000} conversations, ${MSGS:-2500000} messages"
  $B/switchboard-loadgen seed-console --db "$DB" --conversations "${CONVS:-1000000}" \
    --messages "${MSGS:-2500000}" > "$dir/seed.txt"
  [ "$backend" = sqlite ] && echo "database: $(du -sh "$dir" | cut -f1)"
fi
grep '^seeded' "$dir/seed.txt"
val() { sed -n "s/^$1=//p" "$dir/seed.txt"; }
ADMIN=$(val ADMIN_TOKEN); AGENT=$(val AGENT_TOKEN)

taskset -c 0 $B/switchboard serve & PIDS+=($!)
for _ in $(seq 300); do curl -sf 127.0.0.1:$PORT/readyz >/dev/null && break; sleep 0.1; done
curl -sf 127.0.0.1:$PORT/readyz >/dev/null

# The seed spreads conversations over the 91 days before today (UTC).
TO=$(date -u +%F); FROM=$(date -u -d '-91 days' +%F)
R="/api/v1/reports/conversations?from=$FROM&to=$TO"
time_url() { # label token url
  local times=()
  for _ in $(seq "${REQUESTS:-20}"); do
    times+=("$(taskset -c 1 curl -s -o "$dir/out" -w '%{http_code} %{time_total}' -H "Authorization: Bearer $2" "127.0.0.1:$PORT$3")")
  done
  printf '%s\n' "${times[@]}" | awk -v label="$1" '
    $1 != 200 { bad++ } { t[NR] = $2 * 1000 }
    END { n = asort(t); printf "%-34s p50 %7.1f ms  max %7.1f ms  (%d requests%s)\n", label, t[int((n + 1) / 2)], t[n], n, bad ? ", " bad " not 200" : "" }'
}
echo "started in range: $(curl -s -H "Authorization: Bearer $ADMIN" "127.0.0.1:$PORT$R" | grep -o '"summary":{"conversations_started":[0-9]*' | grep -o '[0-9]*$')"
time_url "report, all (admin)" "$ADMIN" "$R"
time_url "report, group_by=channel" "$ADMIN" "$R&group_by=channel"
time_url "report, group_by=team" "$ADMIN" "$R&group_by=team"
time_url "report, group_by=agent" "$ADMIN" "$R&group_by=agent"
time_url "report, group_by=label" "$ADMIN" "$R&group_by=label"
time_url "report, group_by=link" "$ADMIN" "$R&group_by=link"
time_url "report, an agent's own" "$AGENT" "$R"
time_url "report, Europe/Madrid days" "$ADMIN" "$R&time_zone=Europe/Madrid"
start=$(date +%s.%N)
rows=$(taskset -c 1 curl -s -H "Authorization: Bearer $ADMIN" "127.0.0.1:$PORT/api/v1/reports/conversations.csv?from=$FROM&to=$TO" | wc -l)
echo "CSV export: $((rows - 1)) rows in $(echo "$(date +%s.%N) - $start" | bc) s"
