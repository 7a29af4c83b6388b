#!/usr/bin/env bash
# The README's main command (`npm run main`): setup when needed, generate the synthetic cohort when missing or stale
# (unless ICH_DATA_DIR points at a real dataset), check the dataset, execute every notebook and export the HTML.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh main
if [ -z "${ICH_DATA_DIR:-}" ]; then
  if ! node -e "process.exit(require('./dist/src/data/synth/cohort.js').isSyntheticCohortCurrent('data/synthetic') ? 0 : 1)"; then
    node bin/ich.js data synth --out data/synthetic
  fi
fi
mkdir -p figures
node bin/ich.js data check > figures/data-check.txt || { cat figures/data-check.txt; exit 1; }
node bin/ich.js export
echo "main: done. Dataset report: figures/data-check.txt; notebooks: figures/notebooks/*.html; figures: figures/"
