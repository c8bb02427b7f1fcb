#!/bin/bash
# Build, run and test pstnbridge on Debian 12 (as root).
#
#   ./build.sh deps                 install the Debian packages needed
#   ./build.sh build [--sanitizers] build in build/ (or build-san/ with ASan/UBSan)
#   ./build.sh run                  deps + build, then run pstnbridged in the
#                                   foreground on conf/pstnbridge.conf
#   ./build.sh test                 deps + sanitizer build, unit tests,
#                                   integration tests, Debian package
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$top"

jobs=$(nproc 2>/dev/null || echo 2)

packages=(
	build-essential autoconf automake libtool pkg-config
	libevent-dev libpri-dev libspandsp-dev libosip2-dev libinih-dev
	libssl-dev libsystemd-dev libcunit1-dev dahdi-source libsqlite3-dev liburing-dev
	sip-tester tshark python3 sox
	nftables conntrack iproute2 baresip baresip-core
	qemu-system-x86 cpio bc
	clang libclang-rt-14-dev
	debhelper dpkg-dev fakeroot
	xz-utils debian-archive-keyring
)

say() {
	printf '==> %s\n' "$*"
}

die() {
	printf 'build.sh: %s\n' "$*" >&2
	exit 1
}

installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

cmd_deps() {
	local missing=() p
	for p in "${packages[@]}"; do
		installed "$p" || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		say "deps: all ${#packages[@]} packages installed"
		return 0
	fi
	say "deps: installing ${missing[*]}"
	[ "$(id -u)" -eq 0 ] || die "deps: run as root to install: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# tshark asks whether non-root users may capture; answer no.
	echo "wireshark-common wireshark-common/install-setuid boolean false" |
	    debconf-set-selections
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Regenerate configure when it is missing or older than its inputs.
need_autoreconf() {
	[ -x configure ] || return 0
	[ -f Makefile.in ] || return 0
	[ configure.ac -nt configure ] && return 0
	[ Makefile.am -nt configure ] && return 0
	[ -n "$(find src tests -name local.am -newer configure 2>/dev/null)" ] &&
	    return 0
	return 1
}

cmd_build() {
	local dir=build conf_args=()
	case "${1:-}" in
	"") ;;
	--sanitizers) dir=build-san; conf_args=(--enable-sanitizers) ;;
	*) die "build: unknown option $1" ;;
	esac
	# Explicit checks: this also runs where set -e does not apply.
	if need_autoreconf; then
		say "autoreconf -fi"
		autoreconf -fi || return 1
	fi
	mkdir -p "$dir" || return 1
	if [ ! -f "$dir/Makefile" ]; then
		say "configure ${conf_args[*]} in $dir/"
		if ! (cd "$dir" && ../configure -q "${conf_args[@]}"); then
			rm -f "$dir/Makefile"
			return 1
		fi
	fi
	say "make -j$jobs in $dir/"
	make -C "$dir" -j"$jobs" || return 1
}

cmd_run() {
	cmd_deps
	cmd_build
	mkdir -p /run/pstnbridge
	cat <<'EOF'

pstnbridged: SIP on 127.0.0.1:5060 (UDP and TCP), span "sim1" (simulated PSTN)

  Dial (SIP request URI user part):
    100  answers and echoes your audio
    101  answers and plays a 1004 Hz tone
    102  busy (cause 17, SIP 486)
    103  rings, never answers (cancel it)
    104  rings 3 s, then answers and echoes
    105  early media (183 with in-band tone), then answers and echoes
    106  network congestion (cause 34, SIP 503)
    1... any other number starting with 1: unallocated (cause 1, SIP 404)

  Calls from the simulated PSTN to 2xxx go to sip:{number}@127.0.0.1:5070
  (place one with: build/pstnbridgectl sim call sim1 2000 5551234).

  Example: sipp -sn uac -s 100 -m 1 127.0.0.1:5060
  Status:  build/pstnbridgectl status ; build/pstnbridgectl calls
  Stop:    Ctrl-C

EOF
	exec build/pstnbridged -f -c conf/pstnbridge.conf
}

# Stage results for the summary line.
passed=0
failed=0
stage_ok() {
	say "stage $1: PASS"
	passed=$((passed + 1))
}
stage_fail() {
	say "stage $1: FAIL${2:+ ($2)}"
	failed=$((failed + 1))
}

test_unit() {
	if make -C build-san -j"$jobs" check; then
		stage_ok unit
		return
	fi
	local f
	while IFS= read -r f; do
		say "$f"
		cat "$f"
	done < <(find build-san -name test-suite.log)
	stage_fail unit
}

test_integration() {
	local script="$top/tests/integration/run.sh"
	if [ ! -f "$script" ]; then
		stage_fail integration "tests/integration/run.sh missing"
		return
	fi
	local run=(bash "$script")
	[ -x "$script" ] && run=("$script")
	if (cd build-san &&
	    PSTNBRIDGED="$top/build-san/pstnbridged" \
	    PSTNBRIDGECTL="$top/build-san/pstnbridgectl" \
	    "${run[@]}"); then
		stage_ok integration
	else
		stage_fail integration
	fi
}

# Copy the source tree (tracked and untracked files that are not ignored)
# into $1, so that the package build leaves the real tree clean.
copy_tree() {
	local dst=$1
	mkdir -p "$dst"
	if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$top" ls-files -z --cached --others --exclude-standard |
		    while IFS= read -r -d '' f; do
			    # skip files deleted but not yet committed
			    if [ -e "$f" ] || [ -L "$f" ]; then
				    printf '%s\0' "$f"
			    fi
		    done | tar -C "$top" --null -T - -cf - | tar -C "$dst" -xf -
	else
		tar -C "$top" --exclude=./build --exclude=./build-san \
		    --exclude=./.git -cf - . | tar -C "$dst" -xf -
	fi
}

deb_has() {
	grep -qE "[[:space:]]\.$1(\$| )" "$2"
}

test_package() {
	local tmp src deb list info ok=1 f
	tmp=$(mktemp -d /tmp/pstnbridge-deb.XXXXXX)
	src="$tmp/pstnbridge"
	copy_tree "$src"
	say "dpkg-buildpackage -us -uc -b in $src"
	if ! (cd "$src" &&
	    DEB_BUILD_OPTIONS="nocheck parallel=$jobs" \
	    dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
		tail -n 60 "$tmp/build.log"
		stage_fail package "dpkg-buildpackage failed, log in $tmp/build.log"
		return
	fi
	deb=$(find "$tmp" -maxdepth 1 -name 'pstnbridge_*.deb' | head -n 1)
	if [ -z "$deb" ]; then
		stage_fail package "no .deb built"
		return
	fi
	list="$tmp/contents"
	info="$tmp/info"
	dpkg-deb -c "$deb" >"$list"
	dpkg-deb -I "$deb" conffiles >"$info" 2>/dev/null || : >"$info"
	# debhelper puts units in /lib on Debian 12, /usr/lib later
	if deb_has /usr/lib/systemd/system/pstnbridged.service "$list"; then
		echo "  ok: /usr/lib/systemd/system/pstnbridged.service"
	elif deb_has /lib/systemd/system/pstnbridged.service "$list"; then
		echo "  ok: /lib/systemd/system/pstnbridged.service"
	else
		echo "  missing from $(basename "$deb"): pstnbridged.service"
		ok=0
	fi
	for f in /usr/sbin/pstnbridged /usr/bin/pstnbridgectl \
	    /usr/share/man/man8/pstnbridged.8.gz \
	    /usr/share/man/man8/pstnbridgectl.8.gz \
	    /usr/share/man/man5/pstnbridge.conf.5.gz \
	    /etc/pstnbridge/pstnbridge.conf; do
		if deb_has "$f" "$list"; then
			echo "  ok: $f"
		else
			echo "  missing from $(basename "$deb"): $f"
			ok=0
		fi
	done
	if grep -qx /etc/pstnbridge/pstnbridge.conf "$info"; then
		echo "  ok: /etc/pstnbridge/pstnbridge.conf is a conffile"
	else
		echo "  not a conffile: /etc/pstnbridge/pstnbridge.conf"
		ok=0
	fi
	if [ $ok -eq 1 ]; then
		rm -rf "$tmp"
		stage_ok package
	else
		stage_fail package "contents, see $list"
	fi
}

cmd_test() {
	cmd_deps
	if ! cmd_build --sanitizers; then
		stage_fail build
		echo "$passed passed, $failed failed"
		exit 1
	fi
	say "unit tests"
	test_unit
	say "integration tests"
	test_integration
	say "Debian package"
	test_package
	echo "$passed passed, $failed failed"
	[ $failed -eq 0 ]
}

case "${1:-}" in
deps) cmd_deps ;;
build) shift; cmd_build "$@" ;;
run) cmd_run ;;
test) cmd_test ;;
*)
	echo "usage: $0 deps | build [--sanitizers] | run | test" >&2
	exit 2
	;;
esac
