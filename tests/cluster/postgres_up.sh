#!/usr/bin/env bash
# Start a local PostgreSQL server for studies and MLflow runs, from Debian's packages (installed first when they
# are missing). Idempotent: a running server is left alone. Its data, socket, log and generated password live in
# $SWEEPWISE_PG_DIR (default /tmp/sweepwise-pg); it listens on 127.0.0.1:$SWEEPWISE_PG_PORT (default 5433).
# Role `sweepwise` (password generated once, may create databases) owns the databases `studies` and `mlflow`.
# Prints the URLs to use; the last line is the export the tests read. As root, the server runs as `postgres`.
set -euo pipefail

DIR=${SWEEPWISE_PG_DIR:-/tmp/sweepwise-pg}
PORT=${SWEEPWISE_PG_PORT:-5433}
SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo "sudo")

say() { echo "db-up: $*" >&2; }

bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

if [ -z "$(bin_dir)" ]; then
  say "installing postgresql"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
BIN=$(bin_dir)
as_server() {  # run a server command as the user that owns the data
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$DIR"
chmod 700 "$DIR"
[ "$(id -u)" -eq 0 ] && chown postgres "$DIR"
if [ ! -s "$DIR/password" ]; then
  (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$DIR/password")
  [ "$(id -u)" -eq 0 ] && chown postgres "$DIR/password"
fi
PASSWORD=$(cat "$DIR/password")

if [ ! -f "$DIR/data/PG_VERSION" ]; then
  say "creating the cluster in $DIR/data"
  as_server "$BIN/initdb" -D "$DIR/data" --username=postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C >"$DIR/initdb.log"
fi
mkdir -p "$DIR/socket"
[ "$(id -u)" -eq 0 ] && chown postgres "$DIR/socket"
if ! as_server "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
  as_server "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start \
    -o "-p $PORT -k $DIR/socket -c listen_addresses=127.0.0.1 -c max_connections=200" >/dev/null
fi

psql_admin() { as_server psql -h "$DIR/socket" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'sweepwise'")" ]; then
  psql_admin -c "CREATE ROLE sweepwise LOGIN CREATEDB PASSWORD '$PASSWORD'"
fi
for database in studies mlflow; do
  if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$database'")" ]; then
    psql_admin -c "CREATE DATABASE $database OWNER sweepwise"
  fi
done

URL="postgresql://sweepwise:$PASSWORD@127.0.0.1:$PORT"
say "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (data and password in $DIR)"
say "  studies:  hydra.sweeper.storage=$URL/studies"
say "  runs:     tracking.uri=$URL/mlflow   (or make mlflow-server DB=$URL/mlflow)"
echo "export SWEEPWISE_POSTGRES_URL=$URL"
