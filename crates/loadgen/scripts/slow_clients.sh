#!/usr/bin/env bash
# The server's memory under abusive webhook clients, while real signed deliveries keep
# coming (docs/BENCHMARKS.md, "Slow and abusive clients").
# Run from the repository root after `cargo build --release --bin switchboard --bin switchboard-loadgen`.
# Usage: crates/loadgen/scripts/slow_clients.sh trickle|stall [CLIENTS] [SECONDS]
# Stops only the processes it started. PORT (default 18091) and B (target/release) may be set.
set -euo pipefail
B=${B:-target/release}; PORT=${PORT:-18091}
mode=$1; clients=${2:-200}; seconds=${3:-30}
dir=$(mktemp -d /tmp/sb-slow.XXXXXX)
export SWITCHBOARD_APP_SECRET=benchsecret SWITCHBOARD_PHONE_NUMBER_ID=100000000000001 \
  SWITCHBOARD_LISTEN=127.0.0.1:$PORT SWITCHBOARD__LOG__FILTER=warn SWITCHBOARD_DATABASE_URL=sqlite://$dir/a.db
taskset -c 0 $B/switchboard serve & SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$dir"' EXIT
for i in $(seq 50); do curl -sf 127.0.0.1:$PORT/readyz >/dev/null && break; sleep 0.1; done
rss() { awk '/^VmRSS/{print int($2/1024)}' /proc/$SERVER/status; }
echo "server RSS at rest: $(rss) MB"
# Real deliveries throughout: 100/s, open loop.
taskset -c 1 $B/switchboard-loadgen webhooks --url http://127.0.0.1:$PORT --app-secret benchsecret \
  --phone-number-id 100000000000001 --rate 100 --duration $((seconds - 2))s --warmup 2s -q --json > "$dir/real.json" & REAL=$!
taskset -c 1 python3 "$(dirname "$0")/slow_clients.py" 127.0.0.1:$PORT "$clients" "$mode" "$seconds" & SLOW=$!
peak=0
while kill -0 $SLOW 2>/dev/null; do r=$(rss); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.5; done
wait $SLOW; wait $REAL
echo "server RSS: peak $peak MB (sampled every 0.5 s), high-water mark $(awk '/^VmHWM/{print int($2/1024)}' /proc/$SERVER/status) MB, now $(rss) MB"
python3 - "$dir/real.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
lat = s.get("latency_ms", {})
print(f"real deliveries: {s['sent']} sent, {s['acknowledged']} acknowledged, other answers {s['other_status']}, "
      f"errors {s['errors']}; ack p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, max {lat['max_ms']:.1f} ms")
PY
