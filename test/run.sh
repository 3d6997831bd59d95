#!/bin/sh
# Placeholder until the integration runner lands: unit tests only.
set -u
out=$(bin/test-unit); rc=$?
printf '%s\n' "$out"
line=$(printf '%s\n' "$out" | tail -1 | sed 's/^unit: //')
echo "$line"
exit $rc
