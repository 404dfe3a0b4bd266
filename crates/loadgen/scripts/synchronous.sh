#!/usr/bin/env bash
# SQLite's `synchronous = full` (the default) against `normal`: webhook acknowledgements,
# unique deliveries, ingest running, server on core 0 and the load tool on core 1,
# alternating runs on fresh databases (docs/BENCHMARKS.md).
# Run from the repository root after `cargo build --release --bin switchboard --bin switchboard-loadgen`.
# Usage: crates/loadgen/scripts/synchronous.sh ["<loadgen webhooks load flags>"] [PAIRS]
# Stops only the processes it started. PORT (default 18092) and B (target/release) may be set.
set -euo pipefail
B=${B:-target/release}; PORT=${PORT:-18092}
load=${1:---concurrency 64 --duration 20s --warmup 2s}; pairs=${2:-2}
export SWITCHBOARD_APP_SECRET=benchsecret SWITCHBOARD_PHONE_NUMBER_ID=100000000000001 \
  SWITCHBOARD_LISTEN=127.0.0.1:$PORT SWITCHBOARD__LOG__FILTER=warn
for i in $(seq "$pairs"); do for sync in normal full; do
  dir=$(mktemp -d /tmp/sb-sync.XXXXXX)
  SWITCHBOARD__DATABASE__SQLITE_SYNCHRONOUS=$sync SWITCHBOARD_DATABASE_URL=sqlite://$dir/a.db \
    taskset -c 0 $B/switchboard serve & SERVER=$!
  for _ in $(seq 50); do curl -sf 127.0.0.1:$PORT/readyz >/dev/null && break; sleep 0.1; done
  taskset -c 1 $B/switchboard-loadgen webhooks --url http://127.0.0.1:$PORT --app-secret benchsecret \
    --phone-number-id 100000000000001 --contacts 5000000 -q --json $load > "$dir/run.json" || true
  pending=$(curl -sf 127.0.0.1:$PORT/readyz | python3 -c 'import json,sys; print(json.load(sys.stdin)["event_log"]["pending"])')
  kill $SERVER; wait $SERVER || true
  python3 - "$dir/run.json" "$sync" "$pending" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); lat = s["latency_ms"]
print(f"{sys.argv[2]:>6}: {s['acked_webhooks_per_s']:8.0f} acks/s, p50 {lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms, "
      f"p99.9 {lat['p999_ms']:.2f} ms; other answers {s['other_status']}, errors {s['errors']}; pending at the end {sys.argv[3]}")
PY
  rm -rf "$dir"
done; done
