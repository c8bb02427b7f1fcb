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
exec "$HERE/dahdi-vm/run-vm.sh"
