#!/bin/sh
# A private PostgreSQL cluster in a directory, reachable only over its Unix
# socket in that directory. Used by `make run` (and `make bench`).
#
#   scripts/pgcluster.sh start DIR [postgres -c options...]   initdb if needed, start
#   scripts/pgcluster.sh stop DIR                             fast shutdown
#   scripts/pgcluster.sh dsn DIR                              print the libpq conninfo
#
# PostgreSQL refuses to run as root: as root the cluster belongs to the
# `postgres` user. The server runs in its own session (setsid), so a Ctrl-C
# meant for the sidecar does not also shut the database down under it.
set -eu

cmd=${1:?usage: pgcluster.sh start|stop|dsn DIR}
dir=${2:?usage: pgcluster.sh start|stop|dsn DIR}
shift 2
PORT=${PGCLUSTER_PORT:-5432}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bindir" ] || { echo "pgcluster: no PostgreSQL server found (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

dbuser() {
	if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

case "$cmd" in
start)
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres "$dir"
		if ! runuser -u postgres -- test -w "$dir"; then
			echo "pgcluster: the postgres user cannot write to $dir (a parent directory is not traversable)" >&2
			exit 1
		fi
	fi
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_owner "$bindir/initdb" -D "$dir/data" -A trust -U "$(dbuser)" -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	opts="-c listen_addresses='' -c unix_socket_directories='$dir' -p $PORT"
	for o in "$@"; do opts="$opts $o"; done
	as_owner setsid "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -o "$opts" -w -t 60 start >/dev/null ||
		{ tail -n 20 "$dir/postgres.log" >&2; exit 1; }
	;;
stop)
	[ -f "$dir/data/postmaster.pid" ] || exit 0
	as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
	;;
dsn)
	dir=$(cd "$dir" && pwd)
	echo "host=$dir port=$PORT dbname=postgres user=$(dbuser)"
	;;
*)
	echo "usage: pgcluster.sh start|stop|dsn DIR" >&2
	exit 2
	;;
esac
