#!/usr/bin/env bash
# Stop the server postgres_up.sh started (its data and password stay in $SWEEPWISE_PG_DIR for the next start).
set -uo pipefail

DIR=${SWEEPWISE_PG_DIR:-/tmp/sweepwise-pg}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -f "$DIR/data/PG_VERSION" ] || exit 0
if [ "$(id -u)" -eq 0 ]; then
  runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1
else
  "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1
fi
echo "db-down: stopped the PostgreSQL server in $DIR" >&2
