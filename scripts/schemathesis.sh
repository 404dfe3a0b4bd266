#!/usr/bin/env bash
# Contract test: runs schemathesis (PyPI) against a live server's OpenAPI description,
# once as an admin and once as an agent, on a fresh SQLite database in sandbox mode.
#
#   scripts/schemathesis.sh [BINARY] [-- extra schemathesis options]
#
# BINARY defaults to target/debug/switchboard (built if missing). Exits non-zero when a
# check fails for either role, when a role's token stops working during its run, or when
# the server panics. SCHEMATHESIS_MAX_EXAMPLES (default 5) sets the cases per operation
# and phase; SCHEMATHESIS_SEED (default 1) fixes the random seed. What the description
# cannot express is accepted in scripts/schemathesis.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-target/debug/switchboard}
[[ $# -gt 0 ]] && shift
[[ ${1:-} == "--" ]] && shift
if [[ ! -x $bin ]]; then cargo build --locked --bin switchboard; fi
command -v schemathesis >/dev/null || python3 -m pip install --quiet 'schemathesis==4.32.5'

work=$(mktemp -d)
server=
trap '[[ -n $server ]] && { kill $server 2>/dev/null; wait $server 2>/dev/null; }; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export SWITCHBOARD_LISTEN=127.0.0.1:$port
export SWITCHBOARD_DATABASE_URL="sqlite://$work/switchboard.db"
export SWITCHBOARD_APP_SECRET=contract-secret
export SWITCHBOARD_PHONE_NUMBER_ID=100000000000001
export SWITCHBOARD__MEDIA__DIR="$work/media"
# Links default to the channel's number.
export SWITCHBOARD__WHATSAPP__DISPLAY_PHONE_NUMBER="+44 7700 900123"
export SWITCHBOARD__LOG__FILTER=error
# Endpoints the fuzzer registers name made-up hosts: deliver nothing.
export SWITCHBOARD__OUTGOING_WEBHOOKS__ENABLED=false

"$bin" migrate >/dev/null
admin=$("$bin" agent create --name Admin --email admin@example.com --role admin)
agent=$("$bin" agent create --name Agent --email agent@example.com --role agent)
"$bin" serve --no-migrate >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
# A conversation to act on.
"$bin" simulate --url "http://127.0.0.1:$port" --text "Where is my order?" >/dev/null
CONTRACT_CONVERSATION_ID=$(curl -fs -H "Authorization: Bearer $admin" "http://127.0.0.1:$port/api/v1/conversations" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["items"][0]["id"])')
export CONTRACT_CONVERSATION_ID

status=0
# The agent first: the admin's run edits agents and may deactivate this one. Neither run
# revokes tokens: a caller finds its own (GET /agents/me, then its tokens) and would lock
# itself out for the rest of the run; the API tests cover revoking.
for role in agent admin; do
  token=${!role}
  echo "== schemathesis as $role"
  schemathesis --no-color --config-file scripts/schemathesis.toml \
    run "http://127.0.0.1:$port/api/v1/openapi.json" \
    -H "Authorization: Bearer $token" \
    --checks all \
    --exclude-operation-id agents_revoke_token \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-5}" \
    --seed "${SCHEMATHESIS_SEED:-1}" \
    --workers 1 --generation-database none "$@" || status=1
  if [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/v1/agents/me") != 200 ]]; then
    echo "the $role's token stopped working during its run: later operations only saw 401" >&2
    status=1
  fi
done
if grep -q panicked "$work/server.log"; then
  echo "the server panicked:" >&2; grep -A3 panicked "$work/server.log" >&2; status=1
fi
exit $status
