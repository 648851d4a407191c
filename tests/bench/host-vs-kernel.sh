#!/usr/bin/env bash
# Benchmark (not a test): the disnvme host against the Linux nvme-rdma host. In one test-VM
# run, against the same Linux nvmet-rdma target (tmpfs-backed namespace):
#   disnvme host (ublk) and then the kernel host (netns hst): 4k random read QD32 (IOPS) and
#   128k sequential read QD8 (MiB/s), each with the ratio disnvme/kernel;
# then disnvme host + disnvme-target against kernel host + kernel target, same jobs.
# The guest runs under TCG, so absolute figures mean little; the ratios are the result.
#
#   DISNVME_BUILD=<build dir> tests/bench/host-vs-kernel.sh [OUT_DIR]
# Use a build without sanitizers (-DDISNVME_SANITIZE=OFF) for meaningful figures.
# Environment: BENCH_RUNTIME (seconds per job, default 6), BENCH_IO_QUEUES (default 2),
# BENCH_ROUNDS (alternating rounds, default 10).
if [[ ${DISNVME_OUT:-} != /vmout ]]; then
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	build=${DISNVME_BUILD:-$here/../../build}
	exec "$here/../vm/run-vm.sh" "$here/host-vs-kernel.sh" \
		"${1:-$build/vm-out/bench-host-vs-kernel}"
fi

. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/bench/stats.sh"
. "$DISNVME_SRC/tests/bench/syscalls.sh"
RUNTIME=${BENCH_RUNTIME:-6}
NQ=${BENCH_IO_QUEUES:-2}

topo_up
load_modules ublk_drv nvme-rdma
data_dir
nqn=nqn.2014-08.org.disnvme:bench
img=$DATA/bench.img
fallocate -l 512M "$img" || fail "fallocate"
on_exit "rm -f $img"
# fill it so reads touch real pages
dd if=/dev/urandom of="$img" bs=1M count=512 conv=notrunc status=none
knvmet_up $nqn "$img"

# fio_job NAME DEV RW BS QD -> prints "IOPS KiB/s" (terse v3: read bw field 7, iops 8)
fio_job() {
	fio --name="$1" --filename="$2" --rw="$3" --bs="$4" --iodepth="$5" --ioengine=io_uring \
		--direct=1 --size=512M --time_based --runtime="$RUNTIME" --ramp_time=1 \
		--numjobs=1 --group_reporting --output-format=terse --terse-version=3 \
		>"$1.terse" 2>"$1.err" || { log "fio $1 failed: $(cat "$1.err")" >&2; return 1; }
	awk -F';' '{print $8, $7}' "$1.terse"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }


# All three paths are connected at once. Each round runs the 4k job on the three back to back,
# then the 128k job, the order reversed every other round (dn k dd, dd k dn, ...), so that the
# guest's (TCG's) drifting speed hits every side alike and the runs compared are close in time;
# each figure is the median of its rounds.
ROUNDS=${BENCH_ROUNDS:-10}

# 1. disnvme host -> kernel target
dn_dev=$($DISNVME connect -t rdma -a $TGT_ADDR -s $PORT -n $nqn -i $NQ) || fail "disnvme connect"
on_exit "$DISNVME disconnect-all"
# 2. kernel host -> kernel target
in_host nvme connect -t rdma -a $TGT_ADDR -s $PORT -n $nqn -i $NQ >/dev/null || fail "nvme connect"
on_exit "in_host nvme disconnect -n $nqn"
k_dev=$(khost_ns_dev $nqn) || fail "no kernel namespace device"
# 3. disnvme host -> disnvme-target (port 4421, same backing file)
dtgt_config bench-tgt.json $nqn-dn "$img" 4421
: >"$DISNVME_OUT/bench-target.log"
dtgt_start "$DISNVME_OUT/bench-target.log" --config bench-tgt.json
dd_dev=$($DISNVME connect -t rdma -a $TGT_ADDR -s 4421 -n $nqn-dn -i $NQ) || fail "connect dn target"
log "devices: disnvme->nvmet $dn_dev, kernel->nvmet $k_dev, disnvme->disnvme-target $dd_dev"

declare -A r4k r128 last4k last128 dev=([dn]=$dn_dev [k]=$k_dev [dd]=$dd_dev)
for round in $(seq 1 "$ROUNDS"); do
	order="dn k dd"
	(( round % 2 )) || order="dd k dn"
	for side in $order; do
		a=$(fio_job "$side-4k-$round" "${dev[$side]}" randread 4k 32) || fail "fio 4k on $side"
		last4k[$side]=${a% *}
		r4k[$side]+="${a% *} "
	done
	for side in $order; do
		b=$(fio_job "$side-128k-$round" "${dev[$side]}" read 128k 8) || fail "fio 128k on $side"
		last128[$side]=${b#* }
		r128[$side]+="${b#* } "
	done
	for side in $order; do
		log "round $round $side: ${last4k[$side]} IOPS 4k, $(mib "${last128[$side]}") MiB/s 128k"
	done
done
# The daemon's system calls per I/O in one more 4k job on the disnvme host -> nvmet path
# (slower while counted, so not part of the figures above).
sc_job() { local RUNTIME=8; fio_job "$@"; }
sc_fig=$(count_syscalls "$(pgrep -x disnvme | head -1)" "${dev[dn]}" \
	"$DISNVME_OUT/bench-syscalls.csv" sc_job sc-4k "${dev[dn]}" randread 4k 32)
d4k=$(echo ${r4k[dn]} | median); k4k=$(echo ${r4k[k]} | median); dd4k=$(echo ${r4k[dd]} | median)
d128=$(echo ${r128[dn]} | median); k128=$(echo ${r128[k]} | median)
dd128=$(echo ${r128[dd]} | median)
must $DISNVME disconnect-all
dtgt_stop TERM

printf '\n%-44s %12s %14s   (median of %d rounds)\n' "host -> target" "4k rr QD32" "128k seq QD8" "$ROUNDS"
printf '%-44s %8.0f IOPS %9s MiB/s\n' "disnvme host -> Linux nvmet-rdma" "$d4k" "$(mib "$d128")"
printf '%-44s %8.0f IOPS %9s MiB/s\n' "Linux nvme-rdma -> Linux nvmet-rdma" "$k4k" "$(mib "$k128")"
printf '%-44s %13s %15s\n' "  ratio disnvme/kernel (host)" "$(ratio "$d4k" "$k4k")" \
	"$(ratio "$d128" "$k128")"
printf '%-44s %8.0f IOPS %9s MiB/s\n' "disnvme host -> disnvme-target" "$dd4k" "$(mib "$dd128")"
printf '%-44s %13s %15s\n' "  ratio disnvme pair/kernel pair" "$(ratio "$dd4k" "$k4k")" \
	"$(ratio "$dd128" "$k128")"
printf '\n%s\n' "Against the goal of 1.0 (median of the rounds' own ratios, its confidence interval, sign test):"
printf '  host,  4k:   %s\n' "$(ratio_summary "${r4k[dn]}" "${r4k[k]}")"
printf '  host,  128k: %s\n' "$(ratio_summary "${r128[dn]}" "${r128[k]}")"
printf '  pair,  4k:   %s\n' "$(ratio_summary "${r4k[dd]}" "${r4k[k]}")"
printf '  pair,  128k: %s\n' "$(ratio_summary "${r128[dd]}" "${r128[k]}")"
if [[ -n $sc_fig ]]; then
	printf '\n%s\n  %s\n' \
		"disnvme host daemon, system calls per I/O (4k rr QD32, counted by perf):" "$sc_fig"
else
	printf '\n%s\n' "(no perf or tracefs in the guest: system calls per I/O not counted)"
fi
