#!/usr/bin/env bash
# The README's test command (`npm test`): setup when needed, then the whole mocha suite.
# Closes with a plain "N passed, N failed, N skipped" line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh tests
exec node node_modules/mocha/bin/mocha.js "$@"
