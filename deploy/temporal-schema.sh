#!/bin/sh
# Creates or upgrades Temporal's PostgreSQL schemas (persistence and visibility), then exits. Run by the
# `temporal-schema` service with the official admin-tools image, which ships temporal-sql-tool and the
# versioned schema files; re-running it on an existing database only applies the newer versions.
set -eu

: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${POSTGRES_PWD:?}"
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12
sql() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" -pw "$POSTGRES_PWD" "$@"; }

for db in temporal:temporal temporal_visibility:visibility; do
  name=${db%%:*}
  dir=${db##*:}
  sql --db "$name" create-database 2>/dev/null || echo "database $name exists"
  sql --db "$name" setup-schema -v 0.0 2>/dev/null || echo "schema $name already set up"
  sql --db "$name" update-schema -d "$SCHEMA_DIR/$dir/versioned"
done
