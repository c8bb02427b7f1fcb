#!/bin/bash
# The dahdi driver against the real DAHDI kernel driver, no card: Debian's
# cloud kernel under qemu with the DAHDI modules of dahdi-source, looped
# dahdi_dynamic_loc T1 and E1 spans, pstnbridged in dahdi mode, a libpri far
# end and sipp in the guest (tests/integration/dahdi-vm/run-vm.sh).
#
# This test never skips: without root, qemu, network access to the Debian
# archive (first run) or the packages it needs, it fails and says why. The
# kernel and module image is cached in /var/cache/pstnbridge-test/dahdi-vm
# (PB_VM_CACHE); a cold build takes about 15 s plus the download, a run
# (boot and calls) about a minute under TCG.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
abspath() {
	case "$1" in
	/*) echo "$1" ;;
	*) echo "$PWD/$1" ;;
	esac
}
export PSTNBRIDGED=$(abspath "${PSTNBRIDGED:-./pstnbridged}")
export PSTNBRIDGECTL=$(abspath "${PSTNBRIDGECTL:-./pstnbridgectl}")
T=${IT_TESTDIR:-$(mktemp -d "${TMPDIR:-/tmp}/pstnbridge-t_dahdi_vm.XXXXXX")}
export OUT=$T/vm
echo "test t_dahdi_vm: files in $OUT"
"$HERE/dahdi-vm/run-vm.sh"
rc=$?
[ "$rc" -eq 0 ] && exit 0
# The guest is emulated (TCG, 2 vCPUs for the daemon, two far ends and two
# sipps): once in a while it stalls for a second or two, sipp's RTP thread
# then skips that audio and the byte-exact block counts fall below 95 %.
# When those counts are the only failures, the whole VM run is made once
# more and must pass in full; any other failure stands.
failed=$(grep -c '^VMCHECK FAIL' "$OUT/console.log" 2>/dev/null)
other=$(grep '^VMCHECK FAIL' "$OUT/console.log" 2>/dev/null | grep -vc '_audio_sip_to_pstn\|_audio_pstn_to_sip')
if [ "${failed:-0}" -gt 0 ] && [ "${other:-1}" -eq 0 ]; then
	grep '^VMCHECK FAIL' "$OUT/console.log"
	echo "t_dahdi_vm: only byte-exact audio counts failed (a stall of the emulated guest): one more run"
	mv "$OUT" "$OUT.first"
	"$HERE/dahdi-vm/run-vm.sh"
	exit $?
fi
exit "$rc"
