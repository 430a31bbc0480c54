#!/usr/bin/env bash
# Command 2: set up if needed, then run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --browser --postgres
exec .venv/bin/python -m pytest -q "$@"
