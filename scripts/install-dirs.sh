#!/bin/sh
# The directories `make install` creates, and only those, are what
# `make uninstall` may remove.
#
#   scripts/install-dirs.sh create LIST DIR...   (make install)
#   scripts/install-dirs.sh remove LIST          (make uninstall)
#
# DIR and LIST are paths under $DESTDIR (empty for a real install), given
# without it. `create` makes each DIR (with its parents, like install -d) and
# adds to LIST every directory it made that was not there before; LIST keeps
# the directories of earlier installs, so installing twice forgets nothing.
# `remove` deletes LIST, then tries each directory in it, deepest first,
# with rmdir --ignore-fail-on-non-empty: a directory that still holds
# anything stays, and one that was there before the install is never in
# LIST. (An install made before LIST existed leaves its directories.)
set -eu
export LC_ALL=C   # byte order for sort: a path before its extensions

mode=${1:-} list=${2:-}
[ -n "$list" ] || { echo "usage: install-dirs.sh create|remove LIST [DIR...]" >&2; exit 2; }
shift 2
D=${DESTDIR:-}

case $mode in
create)
	new=""
	for dir in "$@"; do
		d=$dir
		while [ -n "$d" ] && [ "$d" != / ] && [ "$d" != . ] && [ ! -d "$D$d" ]; do
			new="$new$d
"
			d=$(dirname "$d")
		done
		install -d "$D$dir"
	done
	old=""
	[ -f "$D$list" ] && old=$(cat "$D$list")
	printf '%s\n%s' "$old" "$new" | sed '/^$/d' | sort -u >"$D$list.tmp"
	mv "$D$list.tmp" "$D$list"
	chmod 0644 "$D$list"
	;;
remove)
	dirs=""
	if [ -f "$D$list" ]; then
		dirs=$(cat "$D$list")
		rm -f "$D$list"
	fi
	# sort -r puts every directory before its parents (a path sorts before its extensions)
	printf '%s\n' "$dirs" | sed '/^$/d' | sort -r -u | while IFS= read -r d; do
		[ -d "$D$d" ] && rmdir --ignore-fail-on-non-empty "$D$d"
		true
	done
	;;
*)
	echo "install-dirs: unknown mode $mode (create or remove)" >&2
	exit 2
	;;
esac
