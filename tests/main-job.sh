#!/usr/bin/env bash
# The main job, end to end: disnvme-target serves a file-backed namespace over soft-RoCE,
# `disnvme connect` maps it to a ublk block device, data goes through it and is read back.
# Runs natively when this kernel can load rdma_rxe and ublk_drv, otherwise in the test VM.
#
#   sudo tests/main-job.sh           (README's first command)
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$src"
build=${DISNVME_BUILD:-$src/build}

bash tests/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"

for b in target/disnvme-target host/disnvme; do
	if [[ ! -x $build/$b ]]; then
		echo "main-job: $(basename $b) is not built yet: this tree does not contain it." >&2
		echo "main-job: nothing to run; see the open issues for the target and the host." >&2
		exit 1
	fi
done

export DISNVME_SRC=$src DISNVME_BUILD=$build
if [[ $(id -u) == 0 ]] && modprobe -q rdma_rxe 2>/dev/null && modprobe -q ublk_drv 2>/dev/null &&
	[[ -c /dev/ublk-control ]]; then
	echo "main-job: this kernel has rdma_rxe and ublk: running natively"
	out=$build/main-job
	mkdir -p "$out"
	DISNVME_OUT=$out bash tests/vm/main-job-guest.sh
else
	echo "main-job: this kernel lacks rdma_rxe or ublk (or we are not root): running in the test VM"
	DISNVME_BUILD=$build bash tests/vm/run-vm.sh tests/vm/main-job-guest.sh "$build/vm-out/main-job"
fi
