#!/usr/bin/env bash
# Start a PostgreSQL cluster and an MLflow tracking server backed by it, for a team setup on one host.
#
#   deploy/mlflow-postgres.sh [DIR]        # DIR defaults to .shopml/mlflow-server
#   export SHOPML_MLFLOW_TRACKING_URI=http://127.0.0.1:5000
#
# Needs the PostgreSQL server binaries (Debian: apt-get install postgresql) and the `postgres` extra
# (`.uv/bin/uv sync --extra postgres`, which adds psycopg 3). Ports: PGPORT (5433), MLFLOW_PORT (5000).
# In production, point --backend-store-uri at your managed PostgreSQL and artifacts at object storage.
set -euo pipefail

DIR=$(realpath -m "${1:-.shopml/mlflow-server}")
PGPORT=${PGPORT:-5433}
MLFLOW_PORT=${MLFLOW_PORT:-5000}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] || { echo "error: PostgreSQL server binaries not found; install the postgresql package" >&2; exit 2; }
MLFLOW=${MLFLOW:-.venv/bin/mlflow}

as_postgres() {  # PostgreSQL refuses to run as root
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$DIR/artifacts"
if [ ! -f "$DIR/pgdata/PG_VERSION" ]; then
    mkdir -p "$DIR/pgdata"
    [ "$(id -u)" = 0 ] && chown postgres "$DIR/pgdata"
    as_postgres "$PGBIN/initdb" -D "$DIR/pgdata" -U shopml --auth=trust >/dev/null
fi
[ "$(id -u)" = 0 ] && chown postgres "$DIR"
as_postgres "$PGBIN/pg_ctl" -D "$DIR/pgdata" status >/dev/null 2>&1 || \
    as_postgres "$PGBIN/pg_ctl" -D "$DIR/pgdata" -o "-p $PGPORT -k $DIR -c listen_addresses=127.0.0.1" \
    -l "$DIR/postgres.log" -w start >/dev/null
psql -h 127.0.0.1 -p "$PGPORT" -U shopml -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='mlflow'" \
    | grep -q 1 || psql -h 127.0.0.1 -p "$PGPORT" -U shopml -d postgres -qc "CREATE DATABASE mlflow"
echo "PostgreSQL on 127.0.0.1:$PGPORT (data in $DIR/pgdata); stop with: $PGBIN/pg_ctl -D $DIR/pgdata stop"

exec "$MLFLOW" server \
    --backend-store-uri "postgresql://shopml@127.0.0.1:$PGPORT/mlflow" \
    --artifacts-destination "$DIR/artifacts" \
    --host 127.0.0.1 --port "$MLFLOW_PORT" --workers "${MLFLOW_WORKERS:-2}"
