#!/usr/bin/env bash
# Profiling aid (not a test): where the guest's CPU goes while fio runs 4k random reads at
# QD32, for each path the benchmarks compare. In one test-VM run:
#   dn: disnvme host (ublk) -> Linux nvmet-rdma
#   k:  Linux nvme-rdma host -> Linux nvmet-rdma
#   dt: Linux nvme-rdma host -> disnvme-target
# For each, `perf record -a -e cpu-clock -g` samples the whole guest (TCG has no PMU) while
# fio runs, and OUT_DIR/profile-<path>.txt gets the share of each process and the hottest
# symbols; fio's IOPS is printed next to it, because a profile only means something together
# with the work done.
#
#   DISNVME_BUILD=<release build dir> tests/bench/profile.sh [OUT_DIR]
# Environment: PROFILE_PATHS (default "dn k dt"), PROFILE_SECONDS (default 8), PROFILE_PERF
# (default 1; 0: only the guest's CPU time split from /proc/stat, without perf's own cost).
if [[ ${DISNVME_OUT:-} != /vmout ]]; then
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	build=${DISNVME_BUILD:-$here/../../build}
	out=${1:-$build/vm-out/bench-profile}
	"$here/../vm/run-vm.sh" "$here/profile.sh" "$out" >/dev/null 2>&1
	rc=$?
	cat "$out"/profile-summary.txt 2>/dev/null
	[[ $rc == 0 ]] || { echo "profile failed (exit $rc); logs in $out" >&2; tail -20 "$out/guest.log" >&2; }
	exit $rc
fi

. "$DISNVME_SRC/tests/vm/lib.sh"
SECS=${PROFILE_SECONDS:-8}
PERF=${PROFILE_PERF:-1}
[[ $PERF == 0 ]] || command -v perf >/dev/null || fail "perf is not installed (Debian: linux-perf)"

# cpu_split: the guest's CPU time by kind (percent of all vCPU time) between two /proc/stat reads
cpu_snap() { head -1 /proc/stat; }
cpu_split() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		n = split(a, x, " "); split(b, y, " ")
		split("user nice system idle iowait irq softirq steal", name, " ")
		for (i = 2; i <= 9; i++) { d[i] = y[i] - x[i]; t += d[i] }
		for (i = 2; i <= 9; i++) if (d[i] > 0) printf "%s %.0f%%  ", name[i - 1], 100 * d[i] / t
		printf "\n"
	}'
}
topo_up
load_modules ublk_drv nvme-rdma
data_dir
nqn=nqn.2014-08.org.disnvme:prof
img=$DATA/prof.img
dd if=/dev/urandom of="$img" bs=1M count=256 status=none || fail "fill $img"
on_exit "rm -f $img"
knvmet_up $nqn "$img"
dtgt_config prof-tgt.json $nqn-dn "$img" 4421
: >"$DISNVME_OUT/prof-target.log"
dtgt_start "$DISNVME_OUT/prof-target.log" --config prof-tgt.json

dev_for() {
	case $1 in
	dn) $DISNVME connect -t rdma -a $TGT_ADDR -s $PORT -n $nqn -i 2 ;;
	k) in_host nvme connect -t rdma -a $TGT_ADDR -s $PORT -n $nqn -i 2 >/dev/null &&
		khost_ns_dev $nqn ;;
	dt) in_host nvme connect -t rdma -a $TGT_ADDR -s 4421 -n $nqn-dn -i 2 >/dev/null &&
		khost_ns_dev $nqn-dn ;;
	esac
}
drop_dev() {
	case $1 in
	dn) $DISNVME disconnect-all ;;
	k) in_host nvme disconnect -n $nqn >/dev/null ;;
	dt) in_host nvme disconnect -n $nqn-dn >/dev/null ;;
	esac
}

: >"$DISNVME_OUT/profile-summary.txt"
for p in ${PROFILE_PATHS:-dn k dt}; do
	dev=$(dev_for $p) || fail "$p: no device"
	fio --name=prof-$p --filename="$dev" --rw=randread --bs=4k --iodepth=32 --ioengine=io_uring \
		--direct=1 --size=256M --time_based --runtime=$((SECS + 4)) --numjobs=1 \
		--output-format=terse --terse-version=3 >fio-$p.terse 2>fio-$p.err &
	fio_pid=$!
	sleep 2
	c0=$(cpu_snap)
	if [[ $PERF == 0 ]]; then
		sleep "$SECS"
	else
		perf record -q -a -g -e cpu-clock -o perf-$p.data -- sleep "$SECS" 2>perf-$p.err ||
			fail "$p: perf record: $(cat perf-$p.err)"
	fi
	c1=$(cpu_snap)
	wait $fio_pid || fail "$p: fio: $(cat fio-$p.err)"
	iops=$(awk -F';' '{print $8}' fio-$p.terse)
	{
		echo "=== $p: $iops IOPS (4k randread QD32, fio over $((SECS + 4)) s)"
		echo "--- guest CPU: $(cpu_split "$c0" "$c1")"
		if [[ $PERF != 0 ]]; then
			echo "--- share of samples by process"
			perf report -i perf-$p.data --stdio --no-children --sort comm -g none \
				2>/dev/null | grep -v '^#' | grep -v '^$' | head -15
			echo "--- hottest symbols"
			perf report -i perf-$p.data --stdio --no-children --sort comm,dso,symbol \
				-g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -45
		fi
	} >"$DISNVME_OUT/profile-$p.txt"
	head -13 "$DISNVME_OUT/profile-$p.txt" >>"$DISNVME_OUT/profile-summary.txt"
	drop_dev $p || fail "$p: disconnect"
done
dtgt_stop TERM
pass "profiles in $DISNVME_OUT/profile-*.txt"
