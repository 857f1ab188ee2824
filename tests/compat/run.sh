#!/usr/bin/env bash
# Run the cardlinky conformance test against a live paylink server (started by the test).
# Env: PAYLINK_BIN (default <repo>/target/debug/paylink), PAYLINK_TEST_DATABASE_URL (optional
# PostgreSQL admin URL; default is a temp SQLite file), COMPAT_TIMEOUT (seconds, default 900).
# Sets PAYLINK_MONEY_SETTLE_AFTER and PAYLINK_MONEY_SANDBOX_PAYOUT_DELAY for that server.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
py="${PYTHON:-python3}"

# cardlinky's own metadata pins a non-existent pydantic, hence --no-deps (see requirements.txt).
if ! "$py" -c 'import importlib.metadata as m, sys; sys.exit(m.version("cardlinky") != "1.7")' 2>/dev/null; then
    "$py" -m pip install --quiet --disable-pip-version-check --no-deps 'cardlinky==1.7'
fi
if ! "$py" -c 'import sys, pydantic, requests, pytest; sys.exit(int(pydantic.VERSION.split(".")[0]) < 2)' 2>/dev/null; then
    "$py" -m pip install --quiet --disable-pip-version-check 'pydantic>=2' requests pytest
fi

# The server the test starts inherits these (see SERVER_MONEY_ENV in test_cardlinky.py): paid
# money is available at once instead of after the 24 h hold, and the sandbox payout provider
# answers 3 s after taking a payout, so payouts are seen in PROCESS before they end.
export PAYLINK_MONEY_SETTLE_AFTER=0
export PAYLINK_MONEY_SANDBOX_PAYOUT_DELAY=3s

# The instance keys live outside the database (PostgreSQL refuses to start without them): the
# server and the operator commands the test runs read this key file, made as an operator would.
keys_dir=$(mktemp -d)
trap 'rm -rf "$keys_dir"' EXIT
"${PAYLINK_BIN:-target/debug/paylink}" keys generate --out "$keys_dir/paylink.key" >/dev/null
export PAYLINK_KEY_FILE="$keys_dir/paylink.key"

# cardlinky sets no HTTP timeout: bound the whole run so a hung server cannot hang CI.
timeout --kill-after=30 "${COMPAT_TIMEOUT:-900}" "$py" -m pytest -q tests/compat "$@"
