#!/bin/bash
# Run the pstnbridge integration tests: every tests/integration/t_*.sh, or
# the ones named on the command line (t_echo or t_echo.sh).
#
# Each test runs in its own process group under a hard timeout
# (IT_TIMEOUT, default 120 s); its files and log go to a directory under
# one temp dir (printed first). Prints PASS name / FAIL name (with the tail
# of the test's log), then one line "N passed, N failed"; exits 1 when a
# test failed.
#
# Binaries: env PSTNBRIDGED and PSTNBRIDGECTL, default ./pstnbridged and
# ./pstnbridgectl of the current directory (the build directory).

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TIMEOUT=${IT_TIMEOUT:-120}

abspath() {
	case "$1" in
	/*) echo "$1" ;;
	*) echo "$PWD/$1" ;;
	esac
}
export PSTNBRIDGED=$(abspath "${PSTNBRIDGED:-./pstnbridged}")
export PSTNBRIDGECTL=$(abspath "${PSTNBRIDGECTL:-./pstnbridgectl}")

OUT=$(mktemp -d "${TMPDIR:-/tmp}/pstnbridge-itest.XXXXXX")
echo "integration test logs in $OUT"
echo "daemon: $PSTNBRIDGED"

tests=()
if [ $# -gt 0 ]; then
	for a in "$@"; do
		a=$(basename "$a" .sh)
		tests+=("$HERE/$a.sh")
	done
else
	for f in "$HERE"/t_*.sh; do
		tests+=("$f")
	done
fi

pass=0
failed=0
for f in "${tests[@]}"; do
	name=$(basename "$f" .sh)
	dir=$OUT/$name
	mkdir -p "$dir"
	start=$(date +%s)
	if [ ! -f "$f" ]; then
		echo "no such test: $f" > "$dir/test.log"
		rc=127
	else
		# setsid: a new session and process group whose id is the PID we
		# get; timeout kills the test's whole group when it runs too long.
		IT_TESTDIR=$dir setsid timeout -k 5 "$TIMEOUT" bash "$f" \
			> "$dir/test.log" 2>&1 < /dev/null &
		pid=$!
		wait "$pid"
		rc=$?
		# anything the test left behind in its group
		kill -KILL -- "-$pid" 2>/dev/null
	fi
	secs=$(( $(date +%s) - start ))
	if [ $rc -eq 0 ]; then
		echo "PASS $name (${secs}s)"
		pass=$((pass + 1))
	else
		case $rc in
		124|137) why="timed out after ${TIMEOUT}s" ;;
		*) why="exit $rc" ;;
		esac
		echo "FAIL $name ($why, ${secs}s; log $dir/test.log)"
		tail -n 25 "$dir/test.log" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done

echo "$pass passed, $failed failed"
[ $failed -eq 0 ]
