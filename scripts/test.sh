#!/usr/bin/env bash
# The whole test suite: the workspace's tests (SQLite, and PostgreSQL on 127.0.0.1:5432),
# then the contract test (schemathesis, from PyPI, installed if missing) against the
# debug binary those tests built.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --locked
cargo build --locked --bin switchboard
scripts/schemathesis.sh "${CARGO_TARGET_DIR:-target}/debug/switchboard"
