#!/bin/bash
# Our jitter buffer against SpanDSP's own G.1050 IP network model.
#
# Debian's libspandsp does not ship the model (it lives in SpanDSP's
# spandsp-sim test library, which is not packaged), but Debian's spandsp
# SOURCE package has it. This script fetches that source package with
# apt-get (private apt lists, nothing on the system changes) into a cache
# directory outside the repository, compiles spandsp-sim/g1050.c against
# the installed libspandsp, links it with tests/g1050/harness.c and our
# src/media/jb.c, and runs the harness (arguments are passed on).
# SpanDSP's code is never copied into the repository.
#
# Environment:
#   PB_G1050_CACHE  where the source tarball is kept
#                   (default ${XDG_CACHE_HOME:-$HOME/.cache}/pstnbridge-g1050)
#   PB_G1050_WORK   build directory (default: a new temp directory)
#
# Fails with a message saying why when the source cannot be had (apt
# unreachable, no such version) or does not build; never passes without
# running the model.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
CACHE=${PB_G1050_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pstnbridge-g1050}
WORK=${PB_G1050_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/pstnbridge-g1050.XXXXXX")}

log() { echo "[$(date +%T.%3N)] g1050: $*"; }
fail() { log "FAIL: $*"; exit 1; }

for c in apt-get dpkg-query tar xz gcc; do
	command -v "$c" > /dev/null || fail "$c not installed (./build.sh deps)"
done

# The source of the libspandsp that is installed, and the upstream tarball.
srcver=$(dpkg-query -W -f='${source:Version}' libspandsp-dev 2>/dev/null) ||
	fail "libspandsp-dev not installed (./build.sh deps)"
upver=$(dpkg-query -W -f='${source:Upstream-Version}' libspandsp-dev)
orig=spandsp_${upver}.orig.tar.xz
suite=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
suite=${suite:-bookworm}
mkdir -p "$CACHE" || fail "cannot create cache directory $CACHE"

# A cached tarball must hold the model; a broken one is fetched again.
valid() {
	[ -s "$1" ] && tar -tJf "$1" 2> /dev/null | grep -q '/spandsp-sim/g1050\.c$'
}

if ! valid "$CACHE/$orig"; then
	rm -f "$CACHE/$orig"
	apt=$CACHE/apt
	rm -rf "$apt" "$CACHE/dl"
	mkdir -p "$apt/sources" "$apt/lists/partial" "$CACHE/dl"
	cat > "$apt/sources/debian-src.sources" <<-EOF
		Types: deb-src
		URIs: http://deb.debian.org/debian
		Suites: $suite
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/sources"
	    -o "Dir::State::Lists=$apt/lists" -o APT::Sandbox::User=root
	    -o Acquire::Retries=2 -o Acquire::http::Timeout=20)
	log "fetching the spandsp $srcver source package (deb-src $suite) into $CACHE"
	# apt-get update exits 0 when a download fails: look for the index.
	timeout 180 apt-get "${opts[@]}" update > "$CACHE/apt-update.log" 2>&1
	compgen -G "$apt/lists/*_Sources*" > /dev/null ||
		fail "apt-get update could not fetch the deb-src index of $suite (is deb.debian.org reachable?):
$(grep -E '^(E|W|Err):' "$CACHE/apt-update.log" | tail -5)"
	# Only the .orig tarball is needed: the Debian packaging tarball may
	# be gone from the mirror (404), which apt reports as an error.
	(cd "$CACHE/dl" && timeout 300 apt-get "${opts[@]}" source --download-only \
	    "spandsp=$srcver") > "$CACHE/apt-source.log" 2>&1
	valid "$CACHE/dl/$orig" ||
		fail "could not download $orig (spandsp=$srcver) with apt-get source:
$(tail -5 "$CACHE/apt-source.log")"
	mv "$CACHE/dl/$orig" "$CACHE/$orig" || fail "cannot keep $orig in $CACHE"
	rm -rf "$CACHE/dl"
fi
log "SpanDSP source: $CACHE/$orig"

# The model, its header and the one private header it includes.
mkdir -p "$WORK/src" "$WORK/inc" || fail "cannot create $WORK"
tar -xJf "$CACHE/$orig" -C "$WORK/src" --strip-components=1 --wildcards \
    '*/spandsp-sim/g1050.c' '*/spandsp-sim/spandsp/g1050.h' '*/src/floating_fudge.h' ||
	fail "cannot extract the model from $orig"
# config.h: what g1050.c and floating_fudge.h test for (glibc has it all;
# HAVE_DRAND48 makes the model draw from drand48(), which the harness seeds).
# g1050_simulate_chunk() shifts its delay arrays with memcpy() between
# overlapping ranges (undefined; AddressSanitizer aborts): memmove() it is.
{
	echo '#include <string.h>'
	echo '#define memcpy memmove'
	echo '#define HAVE_MATH_H 1'
	echo '#define HAVE_DRAND48 1'
	for f in SINF COSF TANF ASINF ACOSF ATANF ATAN2F CEILF FLOORF POWF EXPF LOGF LOG10F; do
		echo "#define HAVE_$f 1"
	done
} > "$WORK/inc/config.h"

log "building the model and the harness in $WORK"
# SpanDSP's file is built as it is, without our warning flags.
gcc -std=gnu99 -O2 -w -DHAVE_CONFIG_H -I"$WORK/inc" -I"$WORK/src/src" \
    -I"$WORK/src/spandsp-sim" -c "$WORK/src/spandsp-sim/g1050.c" -o "$WORK/g1050.o" \
    > "$WORK/build.log" 2>&1 || fail "g1050.c does not build: $(tail -5 "$WORK/build.log")"
gcc -std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wmissing-prototypes \
    -fsanitize=address,undefined -fno-sanitize-recover=undefined \
    -I"$TOP/src" -I"$TOP/tests/unit" -I"$WORK/src/spandsp-sim" \
    -o "$WORK/g1050_harness" "$HERE/harness.c" "$TOP/src/media/jb.c" \
    "$TOP/tests/unit/netmodel.c" "$WORK/g1050.o" -lspandsp -lm \
    >> "$WORK/build.log" 2>&1 || fail "the harness does not build: $(tail -5 "$WORK/build.log")"

log "running: g1050_harness $*"
"$WORK/g1050_harness" "$@"
rc=$?
[ $rc -eq 0 ] || fail "g1050_harness exited $rc"
log "PASS"
