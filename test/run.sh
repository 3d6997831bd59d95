#!/bin/sh
# `make test`: unit tests, the module ladder check (scripts/modladder.py), the
# fuzz corpus replay, then the integration tests
# against a real PostgreSQL and the real daemon (then some of them again with
# --write-path copy --io-uring off), then the container image
# (test/docker/run.py, `make docker-test`) and the compose file
# (`make compose-check`), which print "skipped: ..." and count nothing where
# podman and its base image, or npm, are missing. Ends with "N passed,
# N failed" over all of them; exit status 1 if anything failed.
#
#   test/run.sh [NAME-SUBSTRING...]   only integration tests whose name matches
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0

# Add the "N passed, N failed" tail line of a suite's output to the totals.
count() {
	line=$(printf '%s\n' "$1" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
	if [ -z "$line" ]; then
		echo "test/run.sh: $2 printed no summary line: counting it as one failure"
		failed=$((failed + 1))
		return
	fi
	p=$(printf '%s\n' "$line" | sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*/\2/')
	f=$(printf '%s\n' "$line" | sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*/\3/')
	passed=$((passed + p))
	failed=$((failed + f))
}

if [ $# -eq 0 ]; then
	echo "== unit tests"
	out=$(bin/test-unit 2>&1); rc=$?
	printf '%s\n' "$out"
	count "$out" "unit tests"
	[ $rc -ne 0 ] && [ "$failed" -eq 0 ] && failed=1

	echo "== module ladder (no module calls one beside or above it)"
	out=$(python3 scripts/modladder.py "${BUILD:-build/obj}/src" 2>&1)
	printf '%s\n' "$out"
	count "$out" "the module ladder check"

	echo "== fuzz corpus replay"
	out=$(make -s fuzz-replay 2>&1); rc=$?
	printf '%s\n' "$out"
	if [ $rc -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi

echo "== integration tests"
python3 test/integration/run.py "$@" 2>&1 | tee build/integration.out
count "$(cat build/integration.out)" "the integration tests"

# A second pass of the suites whose rows COPY can write, with every daemon
# started with --write-path copy (harness.py: PGC_TEST_WRITE_PATH), and of
# those that load client I/O hardest, all with --io-uring off, the one
# read per call that kernels and containers without io_uring get (the
# first pass ran with io_uring on). About two and a half minutes. Not
# test_upserts and test_keys: their rows always go by INSERT. Skipped under
# valgrind (CI's valgrind pass runs test/integration/run.py itself).
SECOND_MODULES="test_values. test_faults. test_core. test_hostile. test_promises. test_overload. test_tcp."
if [ $# -eq 0 ] && [ "${PGC_VALGRIND:-}" != 1 ]; then
	echo "== integration tests, --write-path copy --io-uring off"
	# shellcheck disable=SC2086
	PGC_TEST_WRITE_PATH=copy PGC_TEST_IO_URING=off python3 test/integration/run.py $SECOND_MODULES 2>&1 |
		tee build/integration-second.out
	count "$(cat build/integration-second.out)" "the integration tests with --write-path copy --io-uring off"
fi

if [ $# -eq 0 ]; then
	echo "== container image"
	test/docker/run.py 2>&1 | tee build/docker.out
	grep -q '^docker: skipped:' build/docker.out || count "$(cat build/docker.out)" "the container tests"

	echo "== compose file"
	out=$(scripts/compose-check.sh 2>&1); rc=$?
	printf '%s\n' "$out"
	if ! printf '%s\n' "$out" | grep -q '^compose-check: skipped:'; then
		if [ $rc -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
