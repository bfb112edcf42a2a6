#!/usr/bin/env bash
# Everything a fresh clone needs before `npm test` / `npm start`: npm dependencies, then the real servers.
# Idempotent and quiet on a warm cache.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
if [[ ! -d node_modules/@temporalio/worker || package-lock.json -nt node_modules/.package-lock.json ]]; then
  # `npm install` rather than `npm ci`: the lockfile omits other platforms' optional @swc/core binaries, which
  # `npm ci` (npm 11) rejects as out of sync; install keeps every locked version and fills those in.
  echo "[setup] npm install"
  npm install --no-audit --no-fund
fi
bash scripts/install-servers.sh
# The browser test (test/integration/web-ui.test.ts) drives Debian's chromium through playwright-core.
if [[ ! -x /usr/bin/chromium ]]; then
  echo "[setup] apt-get install chromium"
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
echo "[setup] done in $(( $(date +%s) - t0 ))s"
