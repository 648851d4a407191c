#!/usr/bin/env bash
# Benchmark (not a test): the disnvme host against the Linux nvme-rdma host. In one test-VM
# run, against the same Linux nvmet-rdma target (tmpfs-backed namespace):
#   disnvme host (ublk) and then the kernel host: 4k random read QD32 (IOPS) and 128k
#   sequential read QD8 (MiB/s), each with the ratio disnvme/kernel;
# then disnvme host + disnvme-target against kernel host + kernel target, same jobs.
# The disnvme host runs in the guest's initial network namespace, next to the targets, so its
# packets take rxe's loopback path (userspace rdma_cm peers in two namespaces hang). The
# kernel host is measured on that same path (initial namespace, a second nvmet subsystem on
# the same file, so native multipath does not merge it with the other) and, as before, with
# nvme-cli run in netns hst. That is not the veth pair either: nvme-rdma makes its rdma_cm
# connections in the initial network namespace whatever namespace nvme-cli runs in, so they
# too loop back through the target's rxe device (rxet). Its only difference from the first
# is the subsystem. The same path is the like-for-like comparison.
# Every job also reports the guest's CPU time per I/O. To split the host's extra cost per
# 4k I/O into what ublk itself adds and what the rest of its path (NVMe/RDMA in userspace)
# adds, each round also runs the 4k job on a ublk null device (dn-ublk-file --null) and on
# null_blk: the kernel's own null block driver, same queues and depth.
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
. "$DISNVME_SRC/tests/bench/fio.sh"
. "$DISNVME_SRC/tests/bench/syscalls.sh"
. "$DISNVME_SRC/tests/vm/ublk_helpers.sh"
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
# 2b. kernel host -> kernel target from the initial namespace (the disnvme host's path)
knvmet_add_subsys $nqn-kl "$img"
nvme connect -t rdma -a $TGT_ADDR -s $PORT -n $nqn-kl -i $NQ >/dev/null || fail "nvme connect (loopback)"
on_exit "nvme disconnect -n $nqn-kl"
kl_dev=$(khost_ns_dev $nqn-kl) || fail "no kernel namespace device (loopback)"
# 3. disnvme host -> disnvme-target (port 4421, same backing file)
dtgt_config bench-tgt.json $nqn-dn "$img" 4421
: >"$DISNVME_OUT/bench-target.log"
dtgt_start "$DISNVME_OUT/bench-target.log" --config bench-tgt.json
dd_dev=$($DISNVME connect -t rdma -a $TGT_ADDR -s 4421 -n $nqn-dn -i $NQ) || fail "connect dn target"
# 4. a ublk null device and null_blk, with the disnvme device's queues and depth
depth=$(cat /sys/block/${dn_dev#/dev/}/mq/0/nr_tags) || fail "no queue depth for $dn_dev"
ublk_file_start unull -q $NQ -d $depth --null 1024 || fail "dn-ublk-file --null"
modprobe null_blk nr_devices=1 queue_mode=2 submit_queues=$NQ hw_queue_depth=$depth gb=1 \
	bs=512 irqmode=1 memory_backed=0 || fail "modprobe null_blk"
on_exit "rmmod null_blk"
log "devices: disnvme->nvmet $dn_dev, kernel->nvmet $k_dev (from hst), $kl_dev (loopback)," \
	"disnvme->disnvme-target $dd_dev," \
	"ublk null $UBLK_DEV, null_blk /dev/nullb0 ($NQ queues, depth $depth)"

declare -A r4k r128 c4k c128 last4k last128 lastc4k
declare -A dev=([dn]=$dn_dev [k]=$k_dev [kl]=$kl_dev [dd]=$dd_dev [un]=$UBLK_DEV [nb]=/dev/nullb0)
for round in $(seq 1 "$ROUNDS"); do
	order="dn kl k dd" order4="dn kl k dd un nb"
	(( round % 2 )) || order="dd k kl dn" order4="nb un dd k kl dn"
	for side in $order4; do
		a=$(fio_job "$side-4k-$round" "${dev[$side]}" randread 4k 32) || fail "fio 4k on $side"
		read -r iops kib cpu <<<"$a"
		last4k[$side]=$iops lastc4k[$side]=$cpu
		r4k[$side]+="$iops " c4k[$side]+="$cpu "
	done
	for side in $order; do
		b=$(fio_job "$side-128k-$round" "${dev[$side]}" read 128k 8) || fail "fio 128k on $side"
		read -r iops kib cpu <<<"$b"
		last128[$side]=$kib
		r128[$side]+="$kib " c128[$side]+="$cpu "
	done
	for side in $order; do
		log "round $round $side: ${last4k[$side]} IOPS 4k (${lastc4k[$side]} us CPU/IO)," \
			"$(mib "${last128[$side]}") MiB/s 128k"
	done
	log "round $round ublk null: ${last4k[un]} IOPS 4k (${lastc4k[un]} us CPU/IO)," \
		"null_blk: ${last4k[nb]} IOPS 4k (${lastc4k[nb]} us CPU/IO)"
done
# The daemon's system calls per I/O in one more 4k job on the disnvme host -> nvmet path
# (slower while counted, so not part of the figures above).
sc_job() { local RUNTIME=8; fio_job "$@"; }
sc_fig=$(count_syscalls "$(pgrep -x disnvme | head -1)" "${dev[dn]}" \
	"$DISNVME_OUT/bench-syscalls.csv" sc_job sc-4k "${dev[dn]}" randread 4k 32)
d4k=$(echo ${r4k[dn]} | median); k4k=$(echo ${r4k[k]} | median); dd4k=$(echo ${r4k[dd]} | median)
kl4k=$(echo ${r4k[kl]} | median); kl128=$(echo ${r128[kl]} | median)
d128=$(echo ${r128[dn]} | median); k128=$(echo ${r128[k]} | median)
dd128=$(echo ${r128[dd]} | median)
ublk_file_stop || fail "stopping the ublk null device"
must $DISNVME disconnect-all
dtgt_stop TERM

printf '\n%-48s %12s %14s   (median of %d rounds)\n' "host -> target" "4k rr QD32" "128k seq QD8" "$ROUNDS"
row() { printf '%-48s %8.0f IOPS %9s MiB/s\n' "$1" "$2" "$(mib "$3")"; }
row "disnvme host -> Linux nvmet-rdma" "$d4k" "$d128"
row "Linux nvme-rdma -> Linux nvmet-rdma, same path" "$kl4k" "$kl128"
row "Linux nvme-rdma -> Linux nvmet-rdma, from hst" "$k4k" "$k128"
row "disnvme host -> disnvme-target" "$dd4k" "$dd128"
printf '\n%s\n' "Against the goal of 1.0 (median of the rounds' own ratios, its confidence interval, sign test):"
printf '%s\n' "- like for like, the kernel host on the disnvme host's path (initial netns, rxe loopback):"
printf '  host,  4k:   %s\n' "$(ratio_summary "${r4k[dn]}" "${r4k[kl]}")"
printf '  host,  128k: %s\n' "$(ratio_summary "${r128[dn]}" "${r128[kl]}")"
printf '  pair,  4k:   %s\n' "$(ratio_summary "${r4k[dd]}" "${r4k[kl]}")"
printf '  pair,  128k: %s\n' "$(ratio_summary "${r128[dd]}" "${r128[kl]}")"
printf '%s\n' "- the kernel host connected from netns hst (its connections loop back through rxet too):"
printf '  host,  4k:   %s\n' "$(ratio_summary "${r4k[dn]}" "${r4k[k]}")"
printf '  host,  128k: %s\n' "$(ratio_summary "${r128[dn]}" "${r128[k]}")"
printf '  pair,  4k:   %s\n' "$(ratio_summary "${r4k[dd]}" "${r4k[k]}")"
printf '  pair,  128k: %s\n' "$(ratio_summary "${r128[dd]}" "${r128[k]}")"

# CPU time per 4k I/O. ublk's own share: the ublk null device against null_blk (both finish a
# request without touching data, but ublk still hops to the queue thread, goes through
# io_uring twice and copies the data once). The rest: the host's extra cost minus that share.
host_x=$(round_diffs "${c4k[dn]}" "${c4k[kl]}")
ublk_x=$(round_diffs "${c4k[un]}" "${c4k[nb]}")
printf '\n%s\n' "Guest CPU time per I/O, 4k rr QD32 (us, median of the rounds):"
for side in dn kl k dd un nb; do
	case $side in
	dn) name="disnvme host -> Linux nvmet-rdma" ;;
	kl) name="Linux nvme-rdma -> nvmet-rdma, same path" ;;
	k) name="Linux nvme-rdma -> nvmet-rdma, from hst" ;;
	dd) name="disnvme host -> disnvme-target" ;;
	un) name="ublk null device (dn-ublk-file --null)" ;;
	nb) name="null_blk" ;;
	esac
	printf '  %-42s %8.1f us  %8.0f IOPS\n' "$name" "$(echo ${c4k[$side]} | median)" \
		"$(echo ${r4k[$side]} | median)"
done
printf '  %-42s %s\n' "disnvme host - kernel host (same path):" "$(round_summary "$host_x" 0 1)"
printf '  %-42s %s\n' "ublk null - null_blk (ublk's own cost):" "$(round_summary "$ublk_x" 0 1)"
printf '  %-42s %s\n' "the rest (host difference - ublk's cost):" \
	"$(round_summary "$(round_diffs "$host_x" "$ublk_x")" 0 1)"
printf '  128k, us CPU per I/O: disnvme host %.0f, kernel host %.0f (same path), %.0f (from hst),' \
	"$(echo ${c128[dn]} | median)" "$(echo ${c128[kl]} | median)" "$(echo ${c128[k]} | median)"
printf ' disnvme pair %.0f\n' "$(echo ${c128[dd]} | median)"
if [[ -n $sc_fig ]]; then
	printf '\n%s\n  %s\n' \
		"disnvme host daemon, system calls per I/O (4k rr QD32, counted by perf):" "$sc_fig"
else
	printf '\n%s\n' "(no perf or tracefs in the guest: system calls per I/O not counted)"
fi
