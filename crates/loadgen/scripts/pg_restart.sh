#!/usr/bin/env bash
# PostgreSQL restarted in the middle of a webhook burst (docs/BENCHMARKS.md, issue 15):
# every acknowledged delivery must be stored exactly once after the database is back.
# Runs the server on a database of its own (sbrestart), sends a burst of signed webhooks,
# restarts the PostgreSQL cluster part-way through, then checks through the API
# (loadgen --verify) and in the database that every acknowledged message is stored once.
# WARNING: it restarts the whole local cluster, cutting every other client's connections.
# Run from the repository root after building both binaries (B= the directory holding
# them). RESTART=0 runs the same without restarting anything (to try the tooling).
# Usage: crates/loadgen/scripts/pg_restart.sh [seconds of load] [restart after seconds]
set -euo pipefail
B=${B:-target/release}
secs=${1:-12}; at=${2:-4}
out=${OUT:-/tmp/pg_restart}
mkdir -p "$out"
psql -q -h 127.0.0.1 -U postgres -c 'DROP DATABASE IF EXISTS sbrestart' -c 'CREATE DATABASE sbrestart'
export SWITCHBOARD_APP_SECRET=benchsecret SWITCHBOARD_PHONE_NUMBER_ID=100000000000001 \
  SWITCHBOARD_LISTEN=127.0.0.1:18082 SWITCHBOARD__LOG__FILTER=warn \
  SWITCHBOARD_DATABASE_URL=postgres://postgres@127.0.0.1:5432/sbrestart \
  SWITCHBOARD__MEDIA__DIR="$out/media"
token=$($B/switchboard agent create --name Bench --email bench@example.com --role admin 2>/dev/null)
ready() { for _ in $(seq 300); do curl -sf 127.0.0.1:18082/readyz >/dev/null && return; sleep 0.1; done; return 1; }

$B/switchboard serve >"$out/server.log" 2>&1 & server=$!
trap 'kill $server 2>/dev/null || true' EXIT
ready
(
  sleep "$at"
  if [ "${RESTART:-1}" = 1 ]; then
    echo "restarting PostgreSQL at $(date +%T.%N)" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main restart
    echo "PostgreSQL back at $(date +%T.%N)" >&2
  fi
) & restarter=$!
status=0
$B/switchboard-loadgen webhooks --url http://127.0.0.1:18082 --app-secret benchsecret \
  --phone-number-id 100000000000001 --concurrency 32 --duration "${secs}s" --warmup 0s --contacts 500 \
  --timeout 10s --verify --token "$token" --verify-timeout 120s --json -q >"$out/loadgen.json" || status=$?
wait $restarter
python3 - "$out/loadgen.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
v = r["verify"]
print(f"sent {r['sent']}: acknowledged {r['acknowledged']}, other statuses {r['other_status']}, "
      f"errors {r['errors_by_kind']}")
print(f"verify: stored once {v['stored_once']}, missing {v['missing']}, duplicated {v['duplicated']}")
EOF
count="SELECT COUNT(*) || ' rows, ' || COUNT(DISTINCT wamid) || ' distinct wamids' FROM messages WHERE direction = 'inbound'"
echo "stored: $(psql -qtA -h 127.0.0.1 -U postgres sbrestart -c "$count")"
echo "server errors logged: $(grep -c ERROR "$out/server.log" || true) (log: $out/server.log)"
kill $server; wait $server || true
exit $status
