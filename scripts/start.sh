#!/usr/bin/env bash
# `npm start`. With Temporal configuration (TEMPORAL_ADDRESS, TEMPORAL_PROFILE, or a temporal.toml at
# TEMPORAL_CONFIG_FILE or its default place) it runs only the worker against that infrastructure: no npm install,
# no server builds, no apt-get. Without configuration it sets up and starts the local demo (scripts/start.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
toml="${TEMPORAL_CONFIG_FILE:-$HOME/.config/temporalio/temporal.toml}"
if [[ -n "${TEMPORAL_ADDRESS:-}" || -n "${TEMPORAL_PROFILE:-}" || -f "$toml" ]]; then
  # A development checkout runs the sources; an install without dev dependencies runs the compiled worker.
  if [[ -x node_modules/.bin/tsx ]]; then exec node_modules/.bin/tsx worker/main.ts; fi
  if [[ -f dist/worker/main.js ]]; then
    if [[ -z "${VCSNAP_WORKFLOW_BUNDLE:-}" && -f dist/workflow-bundle.js ]]; then export VCSNAP_WORKFLOW_BUNDLE=dist/workflow-bundle.js; fi
    exec node dist/worker/main.js
  fi
  echo "npm start: neither the sources' runner (tsx, a dev dependency) nor a build (dist/worker/main.js) is here; run 'npm ci && npm run build' once" >&2
  exit 1
fi
bash scripts/setup.sh
exec node_modules/.bin/tsx scripts/start.ts
