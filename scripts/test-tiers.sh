#!/usr/bin/env bash
# The two server tiers of `npm test` side by side: the fault suite spends most of its time waiting out outages
# (MinIO down for minutes, paused workers), so it runs beside the real-server tier, each with its own servers on
# free loopback ports. The fault tier's report is printed whole after the server tier's, so the output reads in order.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .vcsnap
faults_log=".vcsnap/test-faults-$$.log"
npm run --silent test:faults >"$faults_log" 2>&1 &
faults=$!
# Interrupted: the fault tier stops too (its harness stops its servers on SIGTERM).
trap 'kill -TERM "$faults" 2>/dev/null' INT TERM
npm run test:servers
servers_status=$?
wait "$faults"
faults_status=$?
echo
echo "== fault tier (ran beside the server tier; full log: $faults_log)"
cat "$faults_log"
if (( servers_status != 0 || faults_status != 0 )); then
  echo "server tier exit $servers_status, fault tier exit $faults_status" >&2
  exit 1
fi
