#!/usr/bin/env bash
# Command 1: set everything up, generate a sample batch with ground truth, and process it offline.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
SAMPLES="${LEDGERLENS_DEMO_SAMPLES:-samples/demo}"
OUT="${LEDGERLENS_DEMO_OUT:-out/demo}"
COUNT="${LEDGERLENS_DEMO_COUNT:-24}"
.venv/bin/ledgerlens samples "$SAMPLES" --count "$COUNT" --seed 7
.venv/bin/ledgerlens run "$SAMPLES" --out "$OUT" --workers 2 --score-truth
