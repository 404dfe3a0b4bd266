#!/usr/bin/env bash
# Inbound webhook -> greeting auto-reply at the mock Graph API (docs/BENCHMARKS.md).
# Run from the repository root after `cargo build --release --bin switchboard --bin switchboard-loadgen`.
# It stops any running `switchboard serve` and `switchboard-loadgen mock-graph` first.
# NOGREET=1 measures the same load with no auto-reply configured.
# Usage: crates/loadgen/scripts/autoreplies.sh sqlite|postgres "<loadgen webhooks load flags>"
set -euo pipefail
B=${B:-target/release}
backend=$1; load=$2
pkill -f 'switchboard serve' || true; pkill -f 'switchboard-loadgen mock-graph' || true; sleep 0.5
rm -rf /tmp/benchdb && mkdir -p /tmp/benchdb
if [ "$backend" = sqlite ]; then DB=sqlite:///tmp/benchdb/a.db; else
  psql -q -h 127.0.0.1 -U postgres -c 'DROP DATABASE IF EXISTS sbbench' -c 'CREATE DATABASE sbbench'
  DB=postgres://postgres@127.0.0.1:5432/sbbench; fi
export SWITCHBOARD_APP_SECRET=benchsecret SWITCHBOARD_PHONE_NUMBER_ID=100000000000001 \
  SWITCHBOARD_LISTEN=127.0.0.1:18081 SWITCHBOARD__LOG__FILTER=warn SWITCHBOARD_DATABASE_URL=$DB \
  SWITCHBOARD_ACCESS_TOKEN=benchtoken SWITCHBOARD_GRAPH_BASE_URL=http://127.0.0.1:9900 \
  SWITCHBOARD__SENDER__THROUGHPUT_PER_SECOND=0 SWITCHBOARD__SENDER__PAIR_PER_MINUTE=0
taskset -c 1 $B/switchboard-loadgen mock-graph --listen 127.0.0.1:9900 -q --keep 2000000 &
$B/switchboard migrate >/dev/null
TOKEN=$($B/switchboard agent create --name Bench --email bench@example.com --role admin | grep -o 'sbt_[0-9a-f]*')
taskset -c 0 $B/switchboard serve &
for i in $(seq 50); do curl -sf 127.0.0.1:18081/readyz >/dev/null && break; sleep 0.1; done
CH=$(curl -sf -H "Authorization: Bearer $TOKEN" 127.0.0.1:18081/api/v1/channels | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
[ -n "${NOGREET:-}" ] || curl -sf -X PUT -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"enabled": true, "text": "Hello {{contact.first_name}}, thanks for writing to {{business.name}}! An agent will be with you shortly."}' \
  127.0.0.1:18081/api/v1/admin/channels/$CH/auto-replies/greeting >/dev/null
taskset -c 1 $B/switchboard-loadgen webhooks --url http://127.0.0.1:18081 --app-secret benchsecret \
  --phone-number-id 100000000000001 --contacts 5000000 ${NOGREET:+} $( [ -z "${NOGREET:-}" ] && echo --replies-from http://127.0.0.1:9900 ) -q $load
pkill -f 'switchboard serve' || true; pkill -f 'switchboard-loadgen mock-graph' || true
