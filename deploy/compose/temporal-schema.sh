#!/bin/sh
# One-shot (temporalio/admin-tools): create Temporal's two PostgreSQL databases and bring their schemas up to date.
# temporal-sql-tool's create, setup-schema and update-schema are idempotent, so this runs on every `up`.
set -eu
schema_dir=/etc/temporal/schema/postgresql/v12
for db in temporal:temporal temporal_visibility:visibility; do
  name=${db%%:*}
  dir=${db##*:}
  tool="temporal-sql-tool --plugin postgres12 --ep postgresql -p 5432 -u $POSTGRES_USER --db $name"
  $tool create
  $tool setup-schema -v 0.0
  $tool update-schema -d "$schema_dir/$dir/versioned"
done
echo "Temporal schema ready"
