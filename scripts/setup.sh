#!/usr/bin/env bash
# Everything a fresh clone needs before `npm test` / `npm start`: npm dependencies, then the real servers.
# Idempotent and quiet on a warm cache.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
if [[ ! -d node_modules/@temporalio/worker || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "[setup] npm ci"
  npm ci --no-audit --no-fund
fi
bash scripts/install-servers.sh
echo "[setup] done in $(( $(date +%s) - t0 ))s"
