#!/bin/sh
# `make compose-check`: validate docker/docker-compose.yml against the
# compose-spec JSON schema.
#
# The schema is the one the dclint package ships (schemas/compose.schema.json,
# the Compose Specification's compose-spec.json); the validator is ajv-cli.
# Both come from the npm registry into .cache/compose-check/ (git-ignored) on
# the first run. A deliberately broken copy of the file must be rejected, so a
# validator that accepts anything fails the check. Skips where npm is missing.
set -eu
cd "$(dirname "$0")/.."

COMPOSE=docker/docker-compose.yml
DIR=.cache/compose-check
PKGS="ajv-cli@5.0.0 dclint@3.1.0"
AJV=$DIR/node_modules/.bin/ajv
SCHEMA=$DIR/node_modules/dclint/schemas/compose.schema.json

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
	echo "compose-check: skipped: npm/node not found (apt-get install nodejs npm)"
	exit 0
fi
if [ ! -x "$AJV" ] || [ ! -f "$SCHEMA" ] || [ "$(cat "$DIR/.pkgs" 2>/dev/null)" != "$PKGS" ]; then
	echo "compose-check: installing $PKGS into $DIR"
	mkdir -p "$DIR"
	# shellcheck disable=SC2086 # word splitting of PKGS is intended
	if ! npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error $PKGS >"$DIR/npm.log" 2>&1; then
		cat "$DIR/npm.log" >&2
		echo "compose-check: FAILED: npm install $PKGS" >&2
		exit 1
	fi
	echo "$PKGS" >"$DIR/.pkgs"
fi

# The schema names its meta-schema https://json-schema.org/draft-07/schema;
# ajv knows draft-07 by its canonical id http://json-schema.org/draft-07/schema#.
sed 's|"https://json-schema.org/draft-07/schema"|"http://json-schema.org/draft-07/schema#"|' \
	"$SCHEMA" >"$DIR/compose-spec.json"

validate() {
	"$AJV" validate --spec=draft7 --strict=false --errors=text -s "$DIR/compose-spec.json" -d "$1" 2>&1
}

if ! out=$(validate "$COMPOSE"); then
	printf '%s\n' "$out" >&2
	echo "compose-check: FAILED: $COMPOSE is not valid compose-spec" >&2
	exit 1
fi

# The same file with one service key misspelt must be rejected.
BAD=$DIR/broken-compose.yml
sed 's/^    stop_grace_period:/    stop_grace_periodd:/' "$COMPOSE" >"$BAD"
if cmp -s "$COMPOSE" "$BAD"; then
	echo "compose-check: FAILED: could not make the broken copy (no stop_grace_period in $COMPOSE?)" >&2
	exit 1
fi
if validate "$BAD" >/dev/null; then
	echo "compose-check: FAILED: the validator accepted a misspelt key: it checks nothing" >&2
	exit 1
fi
echo "compose-check: $COMPOSE is valid compose-spec (schema from dclint@3.1.0, ajv-cli@5.0.0)"
