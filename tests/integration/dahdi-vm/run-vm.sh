#!/bin/bash
# The dahdi driver against the real DAHDI kernel driver, with no card.
#
# Boots Debian's cloud kernel under qemu with the DAHDI modules built from
# Debian's dahdi-source, two pairs of dahdi_dynamic_loc spans looped back to
# back (T1 and E1), and runs guest-init.sh: pstnbridged with both spans in
# dahdi mode, farend (a libpri network side) on the looped spans, sipp
# calling through the gateway. Prints every check; exit 0 only if all pass.
#
# The image (kernel, modules, dahdi_cfg, busybox) is built once and cached
# in $PB_VM_CACHE (default /var/cache/pstnbridge-test/dahdi-vm), keyed by
# the kernel ABI and the dahdi-source version: a cold build downloads about
# 45 MB of Debian packages and compiles three modules (about a minute);
# later runs only pack the initramfs and boot.
#
# Env: PSTNBRIDGED, PSTNBRIDGECTL  binaries under test (required)
#      PB_VM_CACHE, KVER (default: what linux-image-cloud-amd64 depends on)
#      OUT (logs; default a new temp dir), QEMU_TIMEOUT (s, default 240)
#      ACCEL=auto|kvm|tcg (auto: KVM when /dev/kvm is usable, not kvm_pvm)
# Needs: root (apt-get, mknod), qemu-system-x86_64, gcc, libpri-dev, sipp.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
T_START=$(date +%s.%N)
fail() {
	echo "DAHDI VM TEST FAILED: $*" >&2
	exit 1
}
ts() { printf '[%6.1fs] %s\n' "$(echo "$(date +%s.%N) - $T_START" | bc)" "$*"; }

[ -n "${PSTNBRIDGED:-}" ] && [ -x "$PSTNBRIDGED" ] || fail "PSTNBRIDGED=${PSTNBRIDGED:-} is not an executable"
[ -n "${PSTNBRIDGECTL:-}" ] && [ -x "$PSTNBRIDGECTL" ] || fail "PSTNBRIDGECTL=${PSTNBRIDGECTL:-} is not an executable"
[ "$(id -u)" = 0 ] || fail "must run as root (apt-get download, mknod in the initramfs)"
for t in qemu-system-x86_64 gcc cpio gzip sipp apt-get dpkg bc timeout flock ldd; do
	command -v "$t" >/dev/null || fail "$t is not installed (apt-get install qemu-system-x86 gcc cpio sip-tester bc)"
done
[ -f /usr/include/libpri.h ] || fail "libpri-dev is not installed"
[ -f /usr/include/dahdi/user.h ] || fail "the DAHDI headers (dahdi-source or libdahdi headers) are not installed"

CACHE=${PB_VM_CACHE:-/var/cache/pstnbridge-test/dahdi-vm}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/pstnbridge-dahdi-vm.XXXXXX")}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-240}
KVER=${KVER:-$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
	awk '/Depends: linux-image-6/ {sub(/linux-image-/, "", $2); print $2; exit}')}
[ -n "$KVER" ] || fail "cannot find the kernel of linux-image-cloud-amd64 (apt-get update?)"
KABI=${KVER%-cloud-amd64}
DAHDIVER=$(apt-cache policy dahdi-source 2>/dev/null | awk '/Candidate:/ {print $2}' | tr ':~' '__')
[ -n "$DAHDIVER" ] || fail "no dahdi-source package known to apt (apt-get update?)"
IMG=$CACHE/$KVER-$DAHDIVER
mkdir -p "$CACHE" "$OUT"
echo "dahdi VM test: logs in $OUT, image cache $IMG"

# ---------------------------------------------------------------- image
build_image() {
	local x=$IMG.tmp/x debs="linux-image-$KVER-unsigned linux-headers-$KVER
		linux-headers-$KABI-common linux-kbuild-6.1 dahdi-source dahdi libtonezone2.0
		busybox-static" p need=""
	rm -rf "$IMG.tmp"
	mkdir -p "$CACHE/debs" "$x" "$IMG.tmp/modules"
	for p in $debs; do
		ls "$CACHE/debs/${p}_"*.deb >/dev/null 2>&1 || need="$need $p"
	done
	if [ -n "$need" ]; then
		ts "apt-get download$need"
		(cd "$CACHE/debs" && apt-get download $need) >"$OUT/apt-download.log" 2>&1 ||
			fail "apt-get download failed: $(tail -n 5 "$OUT/apt-download.log")"
	fi
	for p in $debs; do
		dpkg -x "$(ls "$CACHE/debs/${p}_"*.deb | tail -n 1)" "$x"
	done
	# the headers' Makefile includes the common tree by absolute path
	sed -i "s#^include /usr/src/#include $x/usr/src/#" "$x/usr/src/linux-headers-$KVER/Makefile"
	tar -xjf "$x/usr/src/dahdi.tar.bz2" -C "$IMG.tmp"
	ts "building dahdi, dahdi_dynamic, dahdi_dynamic_loc for $KVER"
	make -C "$IMG.tmp/modules/dahdi" -j"$(nproc)" KSRC="$x/usr/src/linux-headers-$KVER" \
		KVERS="$KVER" DAHDI_BUILD_ALL= CONFIG_DAHDI=m CONFIG_DAHDI_DYNAMIC=m \
		CONFIG_DAHDI_DYNAMIC_LOC=m modules >"$OUT/build-modules.log" 2>&1 ||
		fail "the DAHDI modules do not build: $(grep -m5 error: "$OUT/build-modules.log")"
	mkdir -p "$IMG.tmp/img/modules" "$IMG.tmp/img/lib"
	for m in dahdi dahdi_dynamic dahdi_dynamic_loc; do
		cp "$IMG.tmp/modules/dahdi/drivers/dahdi/$m.ko" "$IMG.tmp/img/modules/"
	done
	cp "$x/boot/vmlinuz-$KVER" "$IMG.tmp/img/vmlinuz"
	cp "$x/usr/sbin/dahdi_cfg" "$x/bin/busybox" "$IMG.tmp/img/"
	cp -L "$x"/usr/lib/x86_64-linux-gnu/libtonezone.so* "$IMG.tmp/img/lib/"
	rm -rf "$IMG"
	mv "$IMG.tmp/img" "$IMG"
	rm -rf "$IMG.tmp"
}
exec 9>"$CACHE/.lock"
flock 9
if [ ! -f "$IMG/vmlinuz" ]; then
	t=$(date +%s)
	build_image
	ts "image built in $(( $(date +%s) - t )) s and cached in $IMG"
else
	ts "image from the cache: $IMG"
fi
flock -u 9

# ---------------------------------------------------------------- initramfs
R=$OUT/root
rm -rf "$R"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,lib64,lib/x86_64-linux-gnu,proc,sys,dev,tmp,etc/dahdi,modules,test}
cp "$IMG/busybox" "$R/bin/busybox"
mknod -m 600 "$R/dev/console" c 5 1
mknod -m 666 "$R/dev/null" c 1 3
cp "$HERE/guest-init.sh" "$R/init"
chmod 755 "$R/init"
cp "$IMG"/modules/*.ko "$R/modules/"
cp "$IMG/dahdi_cfg" "$R/usr/sbin/"
gcc -O2 -Wall -o "$R/usr/bin/farend" "$HERE/farend.c" -lpri || fail "farend does not build"
cp "$PSTNBRIDGED" "$R/usr/sbin/pstnbridged"
cp "$PSTNBRIDGECTL" "$R/usr/bin/pstnbridgectl"
cp "$(command -v sipp)" "$R/usr/bin/sipp"
for b in "$R/usr/sbin/dahdi_cfg" "$R/usr/bin/farend" "$R/usr/sbin/pstnbridged" \
    "$R/usr/bin/pstnbridgectl" "$R/usr/bin/sipp"; do
	LD_LIBRARY_PATH=$IMG/lib ldd "$b" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'
done | sort -u | while read -r lib; do
	cp -L "$lib" "$R/lib/x86_64-linux-gnu/"
done
ln -sf /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$R/lib64/ld-linux-x86-64.so.2"
cp "$HERE"/uac_*.xml "$R/test/"
"$R/usr/bin/farend" -W "$R/test/t1.raw" -S 0x1111 -n 250
"$R/usr/bin/farend" -W "$R/test/e1.raw" -S 0x3333 -n 250
cp "$HERE/system.conf" "$R/etc/dahdi/system.conf"
cp "$HERE/pstnbridge.conf" "$R/etc/pstnbridge.conf"
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) >"$OUT/initrd.gz"
ts "initramfs $(du -h "$OUT/initrd.gz" | cut -f1)"

# ---------------------------------------------------------------- boot
ACCEL=${ACCEL:-auto}
if [ "$ACCEL" = auto ]; then
	if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then ACCEL=kvm; else ACCEL=tcg; fi
fi
case $ACCEL in
kvm) QACCEL="-enable-kvm -cpu host" ;;
tcg) QACCEL="-accel tcg,thread=multi -cpu max" ;;
*) fail "ACCEL=$ACCEL: auto, kvm or tcg" ;;
esac
LOG=$OUT/console.log
ts "booting $KVER ($ACCEL), console in $LOG"
set +e
timeout -k 5 "$QEMU_TIMEOUT" qemu-system-x86_64 $QACCEL -m 1024 -smp 2 \
	-kernel "$IMG/vmlinuz" -initrd "$OUT/initrd.gz" \
	-append "console=ttyS0 panic=-1 loglevel=4" \
	-display none -monitor none -serial stdio -no-reboot </dev/null >"$LOG" 2>&1
qrc=$?
set -e
ts "qemu exited $qrc"
grep -a -E "^(VMCHECK|GUEST:|FAREND .* (a2b|released|restart|dchannel))" "$LOG" | tr -d '\r' | sed 's/^/    /'
rc=$(grep -a -o 'DAHDIVM_RC=[0-9]*' "$LOG" | tail -n 1 | cut -d= -f2)
npass=$(grep -a -c '^VMCHECK PASS' "$LOG" || true)
nfail=$(grep -a -c '^VMCHECK FAIL' "$LOG" || true)
ts "checks: $npass passed, $nfail failed"
if [ $qrc -ne 0 ] || [ -z "$rc" ] || [ "$rc" != 0 ] || [ "$npass" -lt 25 ]; then
	[ -n "$rc" ] || { echo "--- console (tail)"; tail -n 40 "$LOG"; }
	fail "qemu rc $qrc, guest rc ${rc:-none}, $npass checks passed, $nfail failed (console: $LOG)"
fi
ts "PASS"
