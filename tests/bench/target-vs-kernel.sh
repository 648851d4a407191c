#!/usr/bin/env bash
# Benchmark (run on demand, prints figures; not a test): in one test-VM run the Linux kernel
# NVMe/RDMA host drives fio against disnvme-target and then against the kernel's nvmet-rdma
# target, both exporting the same backing file over the same rxe device:
#   4k random read, QD32 (IOPS) and 128k sequential read, QD8 (MiB/s),
# each with the ratio disnvme/kernel. The guest runs under TCG: only the ratios mean anything.
#
#   DISNVME_BUILD=<release build dir> tests/bench/target-vs-kernel.sh [OUT_DIR]
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
RUNTIME=10
RAMP=2
ROUNDS=6
nqn=nqn.2014-08.org.disnvme:bench
topo_up
data_dir
backing=$DATA/bench.img
# real data, not holes: both targets read the same bytes
dd if=/dev/urandom of="$backing" bs=1M count=512 status=none || fail "filling $backing"
load_modules nvme-rdma
: >"$DISNVME_OUT/rounds.txt"

# fio_run NAME DEV RW BS QD -> prints "iops kib_per_s"
fio_run() {
	local name=$1 dev=$2 rw=$3 bs=$4 qd=$5
	fio --name="$name" --filename="$dev" --ioengine=libaio --direct=1 --rw="$rw" --bs="$bs" \
		--iodepth="$qd" --numjobs=1 --time_based --runtime=$RUNTIME --ramp_time=$RAMP \
		--size=512M --group_reporting --output-format=terse --terse-version=3 \
		>"$name.terse" 2>"$name.err" || { cat "$name.err"; fail "fio $name"; }
	awk -F';' '{ printf "%d %d\n", $8, $7 }' "$name.terse"
}

measure() { # LABEL -> sets RR_IOPS SEQ_MIBS
	local dev
	khost_connect $nqn
	dev=$(khost_ns_dev $nqn) || fail "$1: no block device"
	local r
	r=$(fio_run "$1-randread4k" "$dev" randread 4k 32) || fail "$1: $r"
	RR_IOPS=${r% *}
	r=$(fio_run "$1-seqread128k" "$dev" read 128k 8) || fail "$1: $r"
	SEQ_MIBS=$(( ${r#* } / 1024 ))
	in_host nvme disconnect -n $nqn >/dev/null || fail "$1: nvme disconnect"
	log "$1: 4k randread QD32 $RR_IOPS IOPS, 128k seqread QD8 $SEQ_MIBS MiB/s" |
		tee -a "$DISNVME_OUT/rounds.txt"
}

tlog=$DISNVME_OUT/target.log
: >"$tlog"
# The machine the VM runs on is shared and its speed drifts: alternate the targets, with the
# first one of a round alternating too (disnvme, kernel, kernel, disnvme, ...), so that neither
# always runs in the same place of a round; report each one's best round (a burst of load
# elsewhere does not decide it) and the median of its rounds.
d_rr=0 d_seq=0 k_rr=0 k_seq=0
d_rr_all= d_seq_all= k_rr_all= k_seq_all=
run_disnvme() {
	dtgt_start "$tlog" -t rdma -a $TGT_ADDR -s $PORT -n $nqn --ns "$backing"
	measure "disnvme-r$round"
	(( RR_IOPS > d_rr )) && d_rr=$RR_IOPS
	(( SEQ_MIBS > d_seq )) && d_seq=$SEQ_MIBS
	d_rr_all+="$RR_IOPS " d_seq_all+="$SEQ_MIBS "
	dtgt_stop TERM || fail "disnvme-target exited $? on SIGTERM"
}
run_kernel() {
	knvmet_up $nqn "$backing"
	measure "kernel-r$round"
	(( RR_IOPS > k_rr )) && k_rr=$RR_IOPS
	(( SEQ_MIBS > k_seq )) && k_seq=$SEQ_MIBS
	k_rr_all+="$RR_IOPS " k_seq_all+="$SEQ_MIBS "
	knvmet_down
}
for round in $(seq 1 $ROUNDS); do
	if (( round % 2 )); then
		run_disnvme
		run_kernel
	else
		run_kernel
		run_disnvme
	fi
done

m_d_rr=$(echo $d_rr_all | median) m_k_rr=$(echo $k_rr_all | median)
m_d_seq=$(echo $d_seq_all | median) m_k_seq=$(echo $k_seq_all | median)
rr_ratios=$(round_ratios "$d_rr_all" "$k_rr_all") seq_ratios=$(round_ratios "$d_seq_all" "$k_seq_all")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
{
	echo "disnvme-target vs kernel nvmet-rdma (Linux host, rxe, TCG guest; best of $ROUNDS alternating ${RUNTIME}s runs)"
	printf '  4k randread QD32:   disnvme %8d IOPS   kernel %8d IOPS   ratio %s\n' \
		"$d_rr" "$k_rr" "$(ratio "$d_rr" "$k_rr")"
	printf '  128k seqread QD8:   disnvme %8d MiB/s  kernel %8d MiB/s  ratio %s\n' \
		"$d_seq" "$k_seq" "$(ratio "$d_seq" "$k_seq")"
	echo "  medians of the $ROUNDS rounds; ratio: the median of each round's own ratio"
	printf '  4k randread QD32:   disnvme %8.0f IOPS   kernel %8.0f IOPS   ratio %.2f  (rounds: %s)\n' \
		"$m_d_rr" "$m_k_rr" "$(echo $rr_ratios | median)" "$rr_ratios"
	printf '  128k seqread QD8:   disnvme %8.0f MiB/s  kernel %8.0f MiB/s  ratio %.2f  (rounds: %s)\n' \
		"$m_d_seq" "$m_k_seq" "$(echo $seq_ratios | median)" "$seq_ratios"
	echo "  rounds:"
	grep -h ' IOPS, ' "$DISNVME_OUT/rounds.txt" | sed 's/^/    /'
} | tee "$DISNVME_OUT/bench.txt"
