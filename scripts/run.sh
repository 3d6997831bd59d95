#!/bin/sh
# `make run`: run the sidecar in the foreground.
#
# With PGCOALESCE_DSN or DATABASE_URL set (or PGHOST/PGDATABASE...), it uses
# that database. Otherwise it starts a private PostgreSQL under .run/ in the
# repository (kept between runs, git-ignored), loads sql/demo.sql, and stops
# it again when the sidecar exits. Ctrl-C stops both cleanly: the sidecar
# first writes every pending row, then the database shuts down.
# Extra sidecar options: make run ARGS="--max-delay-ms 10".
set -eu
cd "$(dirname "$0")/.."

SOCKET=${PGCOALESCE_SOCKET:-/tmp/pgcoalesce.sock}
export PGCOALESCE_SOCKET="$SOCKET"

hint() {
	cat <<MSG

  pgcoalesce is listening on $SOCKET. In another terminal, send a row:

    bin/pgcoalesce-cli -c "INSERT INTO events (device_id, kind) VALUES (1, 'hello') RETURNING id"

  or from any language, one JSON line on the socket:

    python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect("$SOCKET"); s.sendall(b"{\"id\":1,\"table\":\"events\",\"row\":{\"device_id\":1,\"kind\":\"hello\"}}\n"); print(s.makefile().readline())'

  Ctrl-C stops it (pending rows are written first).

MSG
}

if [ -n "${PGCOALESCE_DSN:-}${DATABASE_URL:-}${PGHOST:-}${PGDATABASE:-}${PGSERVICE:-}" ]; then
	echo "pgcoalesce: using the database from the environment"
	hint
	exec bin/pgcoalesce ${ARGS:-}
fi

RUNDIR=${PGCOALESCE_RUNDIR:-$PWD/.run}
if ! scripts/pgcluster.sh start "$RUNDIR/pg" 2>/tmp/pgcoalesce-run.$$; then
	cat /tmp/pgcoalesce-run.$$ >&2
	rm -f /tmp/pgcoalesce-run.$$
	RUNDIR=/var/tmp/pgcoalesce-run-$(id -u)
	echo "pgcoalesce: cannot keep the database in the repository; using $RUNDIR instead" >&2
	scripts/pgcluster.sh start "$RUNDIR/pg"
fi
rm -f /tmp/pgcoalesce-run.$$
DSN=$(scripts/pgcluster.sh dsn "$RUNDIR/pg")
echo "pgcoalesce: private PostgreSQL running ($DSN), log in $RUNDIR/pg/postgres.log"
psql -X -q -v ON_ERROR_STOP=1 -d "$DSN" -f sql/demo.sql

stop_db() { scripts/pgcluster.sh stop "$RUNDIR/pg"; echo "pgcoalesce: private PostgreSQL stopped"; }
trap stop_db EXIT
trap ':' INT TERM   # the sidecar gets the signal, drains, exits; then EXIT stops the db

hint
rc=0
bin/pgcoalesce --dsn "$DSN" ${ARGS:-} || rc=$?
exit $rc
