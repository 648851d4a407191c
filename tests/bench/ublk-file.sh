#!/usr/bin/env bash
# Benchmark (not a test): what the ublk library costs. In one test-VM run, the same fio jobs
# on a tmpfs file directly and through dn-ublk-file serving that file:
#   4k random read QD32 (IOPS) and 128k sequential read QD8 (MiB/s), with the ratio ublk/file.
# The guest runs under TCG, so absolute figures mean little; the ratios are the result.
#
#   DISNVME_BUILD=<build dir> tests/bench/ublk-file.sh [OUT_DIR]
# Use a build without sanitizers (-DDISNVME_SANITIZE=OFF) for meaningful figures.
# Each figure is the median of BENCH_REPEAT runs (default 3) taken alternately on the file and
# on the device, so a busy machine skews both sides alike.
# Environment: BENCH_RUNTIME (seconds per job, default 6), BENCH_REPEAT (default 3).
if [[ ${DISNVME_OUT:-} != /vmout ]]; then
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	build=${DISNVME_BUILD:-$here/../../build}
	exec "$here/../vm/run-vm.sh" "$here/ublk-file.sh" "${1:-$build/vm-out/bench-ublk-file}"
fi

. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/bench/stats.sh"
. "$DISNVME_SRC/tests/bench/fio.sh"
. "$DISNVME_SRC/tests/vm/ublk_helpers.sh"
RUNTIME=${BENCH_RUNTIME:-6}
REPEAT=${BENCH_REPEAT:-3}

load_modules ublk_drv
data_dir
img=$DATA/bench.img
fallocate -l 512M "$img" || fail "fallocate"
on_exit "rm -f $img"

ublk_file_start srv -q 2 -d 64 "$img" || fail "dn-ublk-file did not start"
declare -a f4k u4k fseq useq
for ((r = 0; r < REPEAT; r++)); do
	# fio_job prints "IOPS KiB/s CPU"
	a=$(fio_job file-4k "$img" randread 4k 32) || exit 1; x=($a); f4k+=("${x[0]}")
	a=$(fio_job ublk-4k "$UBLK_DEV" randread 4k 32) || exit 1; x=($a); u4k+=("${x[0]}")
	a=$(fio_job file-128k "$img" read 128k 8) || exit 1; x=($a); fseq+=($((x[1] / 1024)))
	a=$(fio_job ublk-128k "$UBLK_DEV" read 128k 8) || exit 1; x=($a); useq+=($((x[1] / 1024)))
done
ublk_file_stop || fail "stopping dn-ublk-file"

f4k_iops=$(echo "${f4k[@]}" | median) u4k_iops=$(echo "${u4k[@]}" | median)
fseq_mib=$(echo "${fseq[@]}" | median) useq_mib=$(echo "${useq[@]}" | median)
{
	echo "ublk-file benchmark: fio io_uring direct, median of $REPEAT x ${RUNTIME}s," \
		"TCG guest (ratios matter)"
	printf '%-22s %12s %12s %10s\n' workload file ublk ublk/file
	printf '%-22s %12s %12s %10s\n' "4k randread QD32" "$f4k_iops IOPS" "$u4k_iops IOPS" \
		"$(ratio "$u4k_iops" "$f4k_iops")"
	printf '%-22s %12s %12s %10s\n' "128k seqread QD8" "$fseq_mib MiB/s" "$useq_mib MiB/s" \
		"$(ratio "$useq_mib" "$fseq_mib")"
	echo "runs: file 4k ${f4k[*]}; ublk 4k ${u4k[*]}; file 128k ${fseq[*]}; ublk 128k ${useq[*]}"
} | tee "$DISNVME_OUT/bench-ublk-file.txt"
