#!/bin/sh
# One-shot (temporalio/admin-tools): create the Temporal namespace the worker uses, unless it exists.
set -eu
ns=${TEMPORAL_NAMESPACE:-default}
temporal operator namespace describe -n "$ns" >/dev/null 2>&1 || temporal operator namespace create -n "$ns" --retention 720h
echo "namespace $ns ready"
