#!/usr/bin/env bash
# Benchmark (run on demand, prints figures; not a test): in one test-VM run the Linux kernel
# NVMe/RDMA host drives fio against disnvme-target and against the kernel's nvmet-rdma target,
# both exporting the same backing file over the same rxe device:
#   4k random read, QD32 (IOPS) and 128k sequential read, QD8 (MiB/s),
# each with the ratio disnvme/kernel. The guest runs under TCG: only the ratios mean anything.
#
#   DISNVME_BUILD=<release build dir> tests/bench/target-vs-kernel.sh [OUT_DIR]
# Environment: BENCH_ROUNDS (default 10), BENCH_RUNTIME (seconds per job, default 6).
#
# On the host this boots the VM with itself as the scenario; inside the guest it measures.
set -uo pipefail
if [[ ${DISNVME_OUT:-} != /vmout ]]; then
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	src=$(cd "$here/../.." && pwd)
	export DISNVME_BUILD=${DISNVME_BUILD:-$src/build}
	out=${1:-$DISNVME_BUILD/bench-out/target-vs-kernel}
	"$src/tests/vm/run-vm.sh" "${BASH_SOURCE[0]}" "$out" >/dev/null 2>&1
	rc=$?
	[[ -f $out/bench.txt ]] && cat "$out/bench.txt"
	[[ $rc == 0 ]] || { echo "benchmark failed (exit $rc); logs in $out" >&2; tail -20 "$out/guest.log" >&2; }
	exit $rc
fi

. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/bench/stats.sh"
. "$DISNVME_SRC/tests/bench/fio.sh"
. "$DISNVME_SRC/tests/bench/syscalls.sh"
RUNTIME=${BENCH_RUNTIME:-6}
FIO_ENGINE=libaio
ROUNDS=${BENCH_ROUNDS:-10}
nqn=nqn.2014-08.org.disnvme:bench
dport=4421
topo_up
data_dir
backing=$DATA/bench.img
dd if=/dev/urandom of="$backing" bs=1M count=512 status=none || fail "filling $backing"
load_modules nvme-rdma
: >"$DISNVME_OUT/rounds.txt"

# Both targets serve the same file at once (nvmet on $PORT, disnvme-target on $dport) and the
# Linux host is connected to both; an idle target costs nothing but keep-alives. Each round
# runs a job on one and then on the other, back to back, so the two figures of a pair share
# the machine's speed of that moment (TCG on a shared machine drifts by tens of percent over
# minutes); which side goes first alternates by round.
knvmet_up $nqn "$backing"
tlog=$DISNVME_OUT/target.log
: >"$tlog"
dtgt_start "$tlog" -t rdma -a $TGT_ADDR -s $dport -n $nqn-dn --ns "$backing"
on_exit "kill $DTGT_PID"
in_host nvme connect -t rdma -a $TGT_ADDR -s $PORT -n $nqn >/dev/null || fail "connect nvmet"
on_exit "in_host nvme disconnect -n $nqn"
in_host nvme connect -t rdma -a $TGT_ADDR -s $dport -n $nqn-dn >/dev/null ||
	fail "connect disnvme-target"
on_exit "in_host nvme disconnect -n $nqn-dn"
k_dev=$(khost_ns_dev $nqn) || fail "no block device for nvmet"
d_dev=$(khost_ns_dev $nqn-dn) || fail "no block device for disnvme-target"
log "devices: disnvme-target $d_dev, nvmet $k_dev"

dev_of() { [[ $1 == d ]] && echo "$d_dev" || echo "$k_dev"; }
declare -A rr seq last cpu_rr cpu_seq
for round in $(seq 1 $ROUNDS); do
	order="d k"
	(( round % 2 )) || order="k d"
	for side in $order; do
		r=$(fio_job "$side-randread4k-$round" "$(dev_of $side)" randread 4k 32) || fail "fio 4k on $side"
		read -r iops kib cpu <<<"$r"
		last[$side-rr]=$iops
		rr[$side]+="$iops " cpu_rr[$side]+="$cpu "
	done
	for side in $order; do
		r=$(fio_job "$side-seqread128k-$round" "$(dev_of $side)" read 128k 8) || fail "fio 128k on $side"
		read -r iops kib cpu <<<"$r"
		last[$side-seq]=$((kib / 1024))
		seq[$side]+="${last[$side-seq]} " cpu_seq[$side]+="$cpu "
	done
	log "round $round ($order): 4k randread QD32 disnvme ${last[d-rr]} kernel ${last[k-rr]}" \
		"IOPS; 128k seqread QD8 disnvme ${last[d-seq]} kernel ${last[k-seq]} MiB/s" |
		tee -a "$DISNVME_OUT/rounds.txt"
done
# disnvme-target's system calls per I/O in one more 4k job (slower while counted)
sc_job() { local RUNTIME=8; fio_job "$@"; }
sc_fig=$(count_syscalls "$DTGT_PID" "$d_dev" "$DISNVME_OUT/bench-syscalls.csv" \
	sc_job sc-randread4k "$d_dev" randread 4k 32)
in_host nvme disconnect -n $nqn-dn >/dev/null || fail "nvme disconnect from disnvme-target"
dtgt_stop TERM || fail "disnvme-target exited $? on SIGTERM"

m_d_rr=$(echo ${rr[d]} | median) m_k_rr=$(echo ${rr[k]} | median)
m_d_seq=$(echo ${seq[d]} | median) m_k_seq=$(echo ${seq[k]} | median)
rr_ratios=$(round_ratios "${rr[d]}" "${rr[k]}") seq_ratios=$(round_ratios "${seq[d]}" "${seq[k]}")
{
	echo "disnvme-target vs kernel nvmet-rdma (Linux host, rxe, TCG guest; $ROUNDS rounds of back-to-back ${RUNTIME}s jobs)"
	echo "  ratio: the median of each round's own ratio (the pair ran back to back)"
	printf '  4k randread QD32:   disnvme %8.0f IOPS   kernel %8.0f IOPS   ratio %.2f  (rounds: %s)\n' \
		"$m_d_rr" "$m_k_rr" "$(echo $rr_ratios | median)" "$rr_ratios"
	printf '  128k seqread QD8:   disnvme %8.0f MiB/s  kernel %8.0f MiB/s  ratio %.2f  (rounds: %s)\n' \
		"$m_d_seq" "$m_k_seq" "$(echo $seq_ratios | median)" "$seq_ratios"
	echo "  against the goal of 1.0 (median, its confidence interval, sign test over the rounds):"
	echo "    4k:   $(ratio_summary "${rr[d]}" "${rr[k]}")"
	echo "    128k: $(ratio_summary "${seq[d]}" "${seq[k]}")"
	b_d_rr=$(echo ${rr[d]} | max) b_k_rr=$(echo ${rr[k]} | max)
	b_d_seq=$(echo ${seq[d]} | max) b_k_seq=$(echo ${seq[k]} | max)
	echo "  (figures: medians of the rounds)  best rounds: 4k $b_d_rr/$b_k_rr IOPS = $(ratio "$b_d_rr" "$b_k_rr"), 128k $b_d_seq/$b_k_seq MiB/s = $(ratio "$b_d_seq" "$b_k_seq")"
	echo "  guest CPU time per I/O (us, median of the rounds; the Linux host's share is the same on both sides):"
	printf '    4k:   disnvme %.1f  kernel %.1f  difference %s\n' "$(echo ${cpu_rr[d]} | median)" \
		"$(echo ${cpu_rr[k]} | median)" \
		"$(round_summary "$(round_diffs "${cpu_rr[d]}" "${cpu_rr[k]}")" 0 1)"
	printf '    128k: disnvme %.1f  kernel %.1f  difference %s\n' "$(echo ${cpu_seq[d]} | median)" \
		"$(echo ${cpu_seq[k]} | median)" \
		"$(round_summary "$(round_diffs "${cpu_seq[d]}" "${cpu_seq[k]}")" 0 1)"
	echo "  rounds:"
	sed 's/^/    /' "$DISNVME_OUT/rounds.txt"
	if [[ -n $sc_fig ]]; then
		echo "  disnvme-target, system calls per I/O (4k randread QD32, counted by perf):"
		echo "    $sc_fig"
	else
		echo "  (no perf or tracefs in the guest: system calls per I/O not counted)"
	fi
} | tee "$DISNVME_OUT/bench.txt"
