#!/usr/bin/env bash
# Benchmark (not a test): what one memory copy costs in the test VM, under qemu's default
# "max" CPU model and under "max,-erms". TCG runs "rep movsb" one byte at a time, several
# times slower than "rep movsq" or a vector loop; with ERMS in the CPU model the guest
# kernel's copy_to_user/copy_from_user (ublk's copy, pread) and glibc's memcpy above a few
# KiB use it. The figures show how much that emulation artefact weighs on a copy.
#
#   DISNVME_BUILD=<build dir> tests/bench/copy-cost.sh [OUT_DIR]
if [[ ${DISNVME_OUT:-} != /vmout ]]; then
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	build=${DISNVME_BUILD:-$here/../../build}
	out=${1:-$build/vm-out/bench-copy-cost}
	rc=0
	for model in max max,-erms; do
		dir=$out/${model//,/_} # qemu's -fsdev path= cannot hold a comma
		DISNVME_VM_CPU_MODEL=$model "$here/../vm/run-vm.sh" "$here/copy-cost.sh" "$dir" \
			>/dev/null || rc=1
		printf '\nqemu -cpu %s (TCG):\n' "$model"
		cat "$dir/bench.txt" 2>/dev/null || echo "  (no figures: see $dir)"
	done
	exit $rc
fi

. "$DISNVME_SRC/tests/vm/lib.sh"
{
	printf '  CPU flags: %s\n' "$(grep -m1 -o -w 'erms\|fsrm' /proc/cpuinfo | tr '\n' ' ')"
	"$DISNVME_BUILD/tests/tools/dn-copy-cost" -f /dev/shm/copy-cost 4096 131072 | sed 's/^/  /'
} >"$DISNVME_OUT/bench.txt" || fail "dn-copy-cost failed"
