#!/usr/bin/env bash
# Start a local Prefect server (unless PREFECT_API_URL answers already), create the `ledgerlens` process work
# pool, register the deployments in deployments/prefect.yaml, and start a worker in the background.
#   ./scripts/deploy.sh              everything
#   ./scripts/deploy.sh --no-worker  server and deployments only (start a worker yourself)
# Logs and pid files go to $LEDGERLENS_DEPLOY_STATE (default ~/.local/state/ledgerlens/deploy).
set -euo pipefail
cd "$(dirname "$0")/.."
export LEDGERLENS_HOME="${LEDGERLENS_HOME:-$(pwd)}"
bin="${LEDGERLENS_VENV:-$LEDGERLENS_HOME/.venv}/bin"
state="${LEDGERLENS_DEPLOY_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/ledgerlens/deploy}"
mkdir -p "$state"
export PREFECT_HOME="${PREFECT_HOME:-$state/prefect}"
port="${LEDGERLENS_PREFECT_PORT:-4200}"
export PREFECT_API_URL="${PREFECT_API_URL:-http://127.0.0.1:$port/api}"
export PREFECT_SERVER_ANALYTICS_ENABLED=false
export LEDGERLENS_INBOX="${LEDGERLENS_INBOX:-s3://ledgerlens-inbox/incoming}"
export LEDGERLENS_ARCHIVE="${LEDGERLENS_ARCHIVE:-s3://ledgerlens-inbox/archive}"
export LEDGERLENS_OUT="${LEDGERLENS_OUT:-s3://ledgerlens-data/out}"
export LEDGERLENS_BACKFILL_SOURCE="${LEDGERLENS_BACKFILL_SOURCE:-s3://ledgerlens-archive/invoices}"

healthy() { "$bin/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + '/health', timeout=2)" "$PREFECT_API_URL" >/dev/null 2>&1; }

if ! healthy; then
  echo "==> Starting a Prefect server on 127.0.0.1:$port (log: $state/server.log)"
  nohup "$bin/prefect" server start --host 127.0.0.1 --port "$port" >"$state/server.log" 2>&1 &
  echo $! >"$state/server.pid"
  for _ in $(seq 1 120); do healthy && break; sleep 0.5; done
  healthy || { tail -n 20 "$state/server.log" >&2; echo "The Prefect server did not start" >&2; exit 1; }
fi

"$bin/prefect" work-pool inspect ledgerlens >/dev/null 2>&1 || "$bin/prefect" work-pool create ledgerlens --type process >/dev/null
echo "==> Registering deployments from deployments/prefect.yaml"
"$bin/prefect" --no-prompt deploy --all --prefect-file deployments/prefect.yaml >"$state/deploy.log" 2>&1 \
  || { tail -n 30 "$state/deploy.log" >&2; exit 1; }
grep -E "Deployment '.*' successfully created" "$state/deploy.log" || true

if [ "${1:-}" != "--no-worker" ]; then
  echo "==> Starting a worker for pool 'ledgerlens' (log: $state/worker.log)"
  nohup "$bin/prefect" worker start --pool ledgerlens >"$state/worker.log" 2>&1 &
  echo $! >"$state/worker.pid"
fi
echo "Prefect UI/API: ${PREFECT_API_URL%/api}   stop: kill \$(cat $state/server.pid $state/worker.pid)"
