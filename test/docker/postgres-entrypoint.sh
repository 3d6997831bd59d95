#!/bin/sh
# Entrypoint of test/docker/postgres.Dockerfile: what the official postgres
# image's does, in the parts docker/docker-compose.yml relies on. Started as
# root: makes PGDATA the postgres user's, then runs again as that user; the
# first start initialises the cluster (POSTGRES_USER as superuser with
# POSTGRES_PASSWORD, POSTGRES_DB, /docker-entrypoint-initdb.d/*.sql); then
# PostgreSQL replaces this script as PID 1, listening on every address.
set -eu

if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA"
	chown postgres:postgres "$PGDATA"
	chmod 0700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ -z "${POSTGRES_PASSWORD:-}" ]; then
		echo "docker-entrypoint: POSTGRES_PASSWORD must be set" >&2
		exit 1
	fi
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	initdb -D "$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
		--auth-local=trust --auth-host=scram-sha-256 >/dev/null
	rm -f "$pwfile"
	echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
	# the init scripts run on a server reachable on its Unix socket only
	pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start >/dev/null
	if [ "$POSTGRES_DB" != postgres ]; then
		psql -X -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres \
			-c "CREATE DATABASE \"$POSTGRES_DB\""
	fi
	for f in /docker-entrypoint-initdb.d/*.sql; do
		[ -e "$f" ] || continue
		echo "docker-entrypoint: running $f"
		psql -X -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f "$f"
	done
	pg_ctl -D "$PGDATA" -w -m fast stop >/dev/null
	echo "docker-entrypoint: database initialised"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
