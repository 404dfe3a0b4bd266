#!/usr/bin/env bash
# The whole test suite: the workspace's tests (SQLite, and PostgreSQL on 127.0.0.1:5432;
# the browser tests in headless Chromium, at most 2 browsers at a time),
# then the contract test (schemathesis, from PyPI, installed if missing) against the
# debug binary those tests built.
set -euo pipefail
cd "$(dirname "$0")/.."

# The browser tests (tests/browser) drive Debian's headless Chromium through chromedriver.
# When chromedriver is missing, install them (and a font, so screenshots are legible: the
# recommends are left out, they pull in a desktop); this needs root and runs
# non-interactively (CI runs as root; elsewhere run `sudo apt-get install chromium
# chromium-driver` once, or set CHROMEDRIVER). Without them the browser tests fail and say so.
if [ -z "${CHROMEDRIVER:-}" ] && [ ! -x /usr/bin/chromedriver ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test: installing chromium and chromium-driver for the browser tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-liberation
  else
    echo "test: /usr/bin/chromedriver is missing and this is not root: the browser tests will fail;" >&2
    echo "test: install it with \`sudo apt-get install chromium chromium-driver\`" >&2
  fi
fi

cargo test --workspace --locked
cargo build --locked --bin switchboard
scripts/schemathesis.sh "${CARGO_TARGET_DIR:-target}/debug/switchboard"
