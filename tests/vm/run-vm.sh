#!/usr/bin/env bash
# Boots a throw-away Linux 6.12 guest (Debian bookworm-backports kernel) under qemu TCG over
# this machine's root file system, runs one scenario script in it as root, and exits with the
# scenario's exit code.
#
#   tests/vm/run-vm.sh SCENARIO.sh [OUT_DIR]
#
# Why: the development/CI kernel has no rdma_rxe, no ublk and no NVMe modules and loads no
# modules, and its /dev/kvm cannot run a stock kernel. The guest has them all.
#
# The host's / is shared read-only (9p) under a tmpfs overlay, so binaries built here run in
# the guest unchanged. OUT_DIR is shared read-write and is the scenario's working directory.
# The guest has no network card: nothing it does leaves it.
#
# Environment:
#   DISNVME_VM_CACHE    kernel/initrd cache (default ~/.cache/disnvme-test-vm)
#   DISNVME_VM_TIMEOUT  seconds before the guest is killed (default 900)
#   DISNVME_VM_CPUS, DISNVME_VM_MEM  guest size (default 2 CPUs, 2048 MiB)
#   DISNVME_VM_CPU_MODEL qemu -cpu (default max; tests/bench/copy-cost.sh compares max
#                        with max,-erms)
#   DISNVME_VM_APPEND   extra kernel command line (e.g. nvme_core.multipath=N)
#   DISNVME_VM_INIT     "systemd" boots the guest with systemd as PID 1 (the scenario runs
#                       as a oneshot unit); default: a plain shell

#   DISNVME_VM_QEMU_ARGS extra qemu arguments (a scenario line "# vm-nvme: SIZE_MB SERIAL"
#                        adds an emulated NVMe drive)
#   DISNVME_BUILD       build directory the scenario uses (default: <src>/build)
# Exit codes: the scenario's; 77 when qemu cannot be had at all (skip); 125 when the guest
# never finished (timeout, boot failure).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
[[ $# -ge 1 ]] || { echo "usage: $0 SCENARIO.sh [OUT_DIR]" >&2; exit 2; }
scenario=$(realpath "$1")
name=$(basename "$scenario" .sh)
out=${2:-${DISNVME_VM_OUT:-$src/build/vm-out}/$name}
build=$(realpath -m "${DISNVME_BUILD:-$src/build}")
[[ -f $scenario ]] || { echo "run-vm: no scenario $scenario" >&2; exit 2; }

# shellcheck source=tests/vm/vm-kernel.sh
. "$here/vm-kernel.sh"
vm_ensure_tools || exit 77
vm_ensure_kernel
vm_ensure_initrd

mkdir -p "$out"
out=$(realpath "$out")
rm -f "$out/guest.rc" "$out/guest.log" "$out/console.log" "$out/dmesg.txt"
cp "$scenario" "$out/.scenario.sh"
# the benchmarks' settings (BENCH_ROUNDS=...) go along; only plain numbers
bench_env=
for v in $(compgen -v BENCH_); do
	[[ ${!v} =~ ^[0-9]+$ ]] && bench_env+=" $v=${!v}"
done
cat >"$out/.guest.sh" <<GUEST
export DISNVME_SRC='$src' DISNVME_BUILD='$build' DISNVME_OUT=/vmout PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb${bench_env:+
export$bench_env}
cd /vmout
: >/vmout/.started
timeout --kill-after=10 $(( ${DISNVME_VM_TIMEOUT:-900} - 30 )) bash /vmout/.scenario.sh
rc=\$?
dmesg >/vmout/dmesg.txt 2>&1
exit \$rc
GUEST

# a scenario may ask for an emulated NVMe drive (/dev/nvme0n1, /dev/ng0n1 in the guest) with a
# line "# vm-nvme: SIZE_MB SERIAL"; its image is OUT_DIR/nvme0.img
vm_nvme_args=
if read -r _ _ nvme_mb nvme_sn < <(grep -m1 '^# vm-nvme:' "$scenario"); then
	rm -f "$out/nvme0.img"
	truncate -s "${nvme_mb}M" "$out/nvme0.img"
	vm_nvme_args="-drive file=$out/nvme0.img,if=none,id=nv0,format=raw,cache=none"
	vm_nvme_args+=" -device nvme,serial=$nvme_sn,drive=nv0"
fi
vm_init_arg=
# a scenario may ask for systemd as PID 1 with a line "# vm-init: systemd"
grep -q '^# vm-init: systemd' "$scenario" && DISNVME_VM_INIT=systemd
[[ ${DISNVME_VM_INIT:-} == systemd ]] && vm_init_arg=disnvme.init=systemd
start=$(date +%s)
# A boot that oopses before it reaches the scenario (qemu TCG's multi-threaded mode rarely
# trips over the kernel's early code patching) is retried; once the scenario has started, or
# when the guest fails any other way, the result stands.
for attempt in 1 2 3; do
	rm -f "$out/.started" "$out/guest.rc"
	# shellcheck disable=SC2086
	timeout --kill-after=10 "${DISNVME_VM_TIMEOUT:-900}" qemu-system-x86_64 \
		-accel tcg,thread=multi -cpu "${DISNVME_VM_CPU_MODEL:-max}" \
		-smp "${DISNVME_VM_CPUS:-2}" -m "${DISNVME_VM_MEM:-2048}" -nographic -no-reboot -nic none \
		-kernel "$VM_CACHE/vmlinuz" -initrd "$VM_CACHE/initrd-v6.img" \
		-append "console=ttyS0 quiet panic=-1 ${vm_init_arg} ${DISNVME_VM_APPEND:-}" \
		-fsdev local,id=r,path=/,security_model=none,readonly=on,multidevs=remap \
		-device virtio-9p-pci,fsdev=r,mount_tag=hostroot \
		-fsdev local,id=m,path="$VM_CACHE/root/lib/modules",security_model=none,readonly=on \
		-device virtio-9p-pci,fsdev=m,mount_tag=mods \
		-fsdev local,id=o,path="$out",security_model=none -device virtio-9p-pci,fsdev=o,mount_tag=out \
		$vm_nvme_args ${DISNVME_VM_QEMU_ARGS:-} >"$out/console.log" 2>&1 || true
	[[ -f $out/.started ]] && break
	grep -qE 'Kernel panic|Oops' "$out/console.log" || break
	echo "run-vm: the guest did not reach the scenario (attempt $attempt); console tail:" >&2
	tail -n 5 "$out/console.log" >&2
	cp "$out/console.log" "$out/console-boot-failure-$attempt.log"
done
elapsed=$(( $(date +%s) - start ))

rc=125
[[ -f $out/guest.rc ]] && rc=$(cat "$out/guest.rc")
if [[ $rc != 0 && $rc != 77 ]]; then
	{
		echo "=== run-vm: scenario $name failed (exit $rc) after ${elapsed}s; output in $out"
		echo "--- guest log (tail)"; tail -n 60 "$out/guest.log" 2>/dev/null || echo "(none)"
		echo "--- console log (tail)"; tail -n 30 "$out/console.log" 2>/dev/null || echo "(none)"
		echo "--- guest dmesg (tail)"; tail -n 40 "$out/dmesg.txt" 2>/dev/null || echo "(none)"
	} >&2
	[[ -f $out/guest.rc ]] || echo "run-vm: the guest never finished (timeout or boot failure)" >&2
else
	cat "$out/guest.log"
	echo "=== run-vm: scenario $name exit $rc after ${elapsed}s"
fi
exit "$rc"
