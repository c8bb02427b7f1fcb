#!/bin/bash
# Build the libFuzzer targets of tests/fuzz/ against the project's sources
# with clang -fsanitize=fuzzer,address,undefined, replay every saved crash
# input, then fuzz each target for a bounded time.
#
#   tests/fuzz/run.sh [build|replay|fuzz|all] [TARGET...]
#
#   build    compile the targets only
#   replay   build, then run every input of crashes/TARGET/ once: each must
#            now pass (they are the regression inputs of fixed bugs)
#   fuzz     build, then fuzz each target for FUZZ_SECONDS
#   all      replay, then fuzz (the default)
#
# TARGET is sip, sdp, rtp, media or cfg (default: all). Environment:
#   FUZZ_SECONDS  seconds per target (default 60)
#   FUZZ_BUILD    build and working-corpus directory
#                 (default ${TMPDIR:-/tmp}/pstnbridge-fuzz-$UID)
#   FUZZ_JOBS     parallel compiles (default nproc)
#   FUZZ_ARGS     more libFuzzer options for the fuzz runs
#   FUZZ_CRASH_DIR where new crash inputs go (default tests/fuzz/crashes;
#                 replay always reads tests/fuzz/crashes)
#   CC            clang (default clang)
#
# A crash found while fuzzing is kept as crashes/TARGET/crash-<sha1> (also
# leak-, timeout-, oom-); the script then exits 1. Fix the bug, keep the
# file: from then on `replay` (and tests/integration/t_fuzz_smoke.sh) checks
# it. Needs clang with its runtime: apt-get install clang libclang-rt-14-dev.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
SECONDS_PER=${FUZZ_SECONDS:-60}
B=${FUZZ_BUILD:-${TMPDIR:-/tmp}/pstnbridge-fuzz-$(id -u)}
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
CC=${CC:-clang}
ALL_TARGETS="sip sdp rtp media cfg"
CRASH_DIR=${FUZZ_CRASH_DIR:-$HERE/crashes}

mode=all
case "${1:-}" in
build|replay|fuzz|all) mode=$1; shift ;;
esac
targets=${*:-$ALL_TARGETS}
for t in $targets; do
	case " $ALL_TARGETS " in
	*" $t "*) ;;
	*) echo "run.sh: no fuzz target '$t' (have: $ALL_TARGETS)" >&2; exit 2 ;;
	esac
done

die() { echo "run.sh: $*" >&2; exit 2; }

command -v "$CC" > /dev/null ||
	die "$CC not found: apt-get install clang libclang-rt-14-dev"

PKGS="libevent libevent_openssl libevent_pthreads spandsp libosip2 inih openssl libsystemd sqlite3 liburing"
DEP_CFLAGS=$(pkg-config --cflags $PKGS) || die "pkg-config: missing build dependencies"
DEP_LIBS="$(pkg-config --libs $PKGS) -lpri -lm"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-g -O1 -std=gnu11 -Wall -Wno-unused-parameter $SAN -fsanitize=fuzzer-no-link"
CPPFLAGS="-I$TOP/src -D_GNU_SOURCE -DSYSCONFDIR=\"/etc\" -DLOCALSTATEDIR=\"/var\" $DEP_CFLAGS"

mkdir -p "$B/obj" || die "cannot create $B"

# ---- build --------------------------------------------------------------

# The internal library: every source but the two mains. An object is
# rebuilt when its source or any header under src/ is newer.
build_lib() {
	local srcs=() s o newest_h
	newest_h=$(find "$TOP/src" -name '*.h' -printf '%T@\n' | sort -n | tail -n 1)
	for s in "$TOP"/src/*/*.c; do
		o=$B/obj/$(basename "$(dirname "$s")")_$(basename "$s" .c).o
		if [ ! -f "$o" ] || [ "$s" -nt "$o" ] ||
		    [ "$(stat -c %Y "$o")" -lt "${newest_h%.*}" ]; then
			srcs+=("$s")
		fi
	done
	if [ ${#srcs[@]} -gt 0 ]; then
		echo "== compiling ${#srcs[@]} sources with $CC"
		printf '%s\n' "${srcs[@]}" | xargs -P "$JOBS" -I{} sh -c '
			s={}; o='"$B"'/obj/$(basename $(dirname $s))_$(basename $s .c).o
			'"$CC $CFLAGS $CPPFLAGS"' -c "$s" -o "$o.tmp" && mv "$o.tmp" "$o"' ||
			return 1
	fi
	# sources that are gone take their objects with them
	for o in "$B"/obj/*.o; do
		s=$TOP/src/$(basename "$o" .o | sed 's/_/\//').c
		[ -f "$s" ] || rm -f "$o"
	done
	if [ ${#srcs[@]} -gt 0 ] || [ ! -f "$B/libpb.a" ]; then
		rm -f "$B/libpb.a"
		ar rcs "$B/libpb.a" "$B"/obj/*.o
	fi
}

build_target() {
	local t=$1 src=$HERE/fuzz_$1.c bin=$B/fuzz_$1
	if [ -f "$bin" ] && [ "$bin" -nt "$src" ] && [ "$bin" -nt "$B/libpb.a" ]; then
		return 0
	fi
	$CC $CFLAGS $CPPFLAGS -fsanitize=fuzzer "$src" "$B/libpb.a" $DEP_LIBS -o "$bin.tmp" &&
		mv "$bin.tmp" "$bin"
}

build_lib || die "building the library failed"
for t in $targets; do
	build_target "$t" || die "building fuzz_$t failed"
done
echo "== built: $(for t in $targets; do printf 'fuzz_%s ' "$t"; done)in $B"
[ "$mode" = build ] && exit 0

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# max_len: a SIP datagram sequence can be long; the rest are small.
opts_for() {
	local o="-timeout=10 -rss_limit_mb=2048"
	case $1 in
	sip) o="$o -max_len=16384 -dict=$HERE/sip.dict" ;;
	sdp) o="$o -max_len=4096 -dict=$HERE/sip.dict" ;;
	rtp) o="$o -max_len=1500" ;;
	media) o="$o -max_len=16384" ;;
	cfg) o="$o -max_len=8192 -dict=$HERE/cfg.dict" ;;
	esac
	echo "$o"
}

failed=0

# ---- replay -------------------------------------------------------------

replay() {
	local t=$1 d=$HERE/crashes/$1 files
	[ -d "$d" ] || return 0
	files=$(find "$d" -type f ! -name '*.md' | sort)
	[ -n "$files" ] || return 0
	echo "== replay $t: $(echo "$files" | wc -l) saved inputs"
	# shellcheck disable=SC2086
	if ! "$B/fuzz_$t" $(opts_for "$t") -runs=1 $files > "$B/replay_$t.log" 2>&1; then
		echo "FAIL replay $t: a saved input still fails; log $B/replay_$t.log"
		grep -E 'ERROR|SUMMARY|Running:' "$B/replay_$t.log" | tail -n 20
		failed=1
	fi
}

# ---- fuzz ---------------------------------------------------------------

fuzz() {
	local t=$1 work=$B/corpus_$1 log=$B/fuzz_$1.log rc
	mkdir -p "$work" "$CRASH_DIR/$t"
	echo "== fuzz $t for ${SECONDS_PER}s (log $log)"
	# New inputs go to the working corpus (first directory); the seeds
	# in the tree are only read.
	# shellcheck disable=SC2086
	"$B/fuzz_$t" $(opts_for "$t") -max_total_time="$SECONDS_PER" \
		-print_final_stats=1 -artifact_prefix="$CRASH_DIR/$t/" \
		${FUZZ_ARGS:-} "$work" "$HERE/corpus/$t" > "$log" 2>&1
	rc=$?
	local line execs eps cov ft
	line=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov:' | tail -n 1)
	cov=$(echo "$line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	echo "   $t: ${execs:-?} runs, ${eps:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus $(ls "$work" | wc -l)"
	if [ $rc -ne 0 ]; then
		echo "FAIL fuzz $t (exit $rc): input kept in $CRASH_DIR/$t/"
		grep -E 'ERROR|SUMMARY|Test unit written|^    #[0-9]' "$log" | head -n 30
		failed=1
	fi
}

for t in $targets; do
	case $mode in
	replay) replay "$t" ;;
	fuzz) fuzz "$t" ;;
	all) replay "$t"; fuzz "$t" ;;
	esac
done
exit $failed
