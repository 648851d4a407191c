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
# Environment: BENCH_RUNTIME (seconds per job, default 10), BENCH_IO_QUEUES (default 2).
if [[ ${DISNVME_OUT:-} != /vmout ]]; then
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	build=${DISNVME_BUILD:-$here/../../build}
	exec "$here/../vm/run-vm.sh" "$here/host-vs-kernel.sh" \
		"${1:-$build/vm-out/bench-host-vs-kernel}"
fi

. "$DISNVME_SRC/tests/vm/lib.sh"
RUNTIME=${BENCH_RUNTIME:-10}
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
		--direct=1 --size=512M --time_based --runtime="$RUNTIME" --ramp_time=2 \
		--numjobs=1 --group_reporting --output-format=terse --terse-version=3 \
		>"$1.terse" 2>"$1.err" || { log "fio $1 failed: $(cat "$1.err")" >&2; return 1; }
	awk -F';' '{print $8, $7}' "$1.terse"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# run_pair LABEL DEV -> "IOPS4K KIBS128K"
run_pair() {
	local a b
	a=$(fio_job "$1-4k" "$2" randread 4k 32) || return 1
	b=$(fio_job "$1-128k" "$2" read 128k 8) || return 1
	echo "${a% *} ${b#* }"
}

# 1. disnvme host -> kernel target
dev=$($DISNVME connect -t rdma -a $TGT_ADDR -s $PORT -n $nqn -i $NQ) || fail "disnvme connect"
on_exit "$DISNVME disconnect-all"
read -r d4k d128 <<<"$(run_pair dn-knvmet "$dev")" || fail "fio on $dev"
must $DISNVME disconnect -n $nqn

# 2. kernel host -> kernel target
in_host nvme connect -t rdma -a $TGT_ADDR -s $PORT -n $nqn -i $NQ >/dev/null || fail "nvme connect"
kdev=$(khost_ns_dev $nqn) || fail "no kernel namespace device"
read -r k4k k128 <<<"$(run_pair k-knvmet "$kdev")" || fail "fio on $kdev"
in_host nvme disconnect -n $nqn >/dev/null

# 3. disnvme host + disnvme-target (port 4421) vs the kernel pair (2.)
cat >bench-tgt.json <<JSON
{
  "ports": [ { "trtype": "rdma", "adrfam": "ipv4", "traddr": "$TGT_ADDR", "trsvcid": "4421" } ],
  "subsystems": [ { "nqn": "$nqn-dn", "allow_any_host": true,
                    "namespaces": [ { "nsid": 1, "path": "$img" } ] } ]
}
JSON
: >"$DISNVME_OUT/bench-target.log"
dtgt_start "$DISNVME_OUT/bench-target.log" --config bench-tgt.json
dev=$($DISNVME connect -t rdma -a $TGT_ADDR -s 4421 -n $nqn-dn -i $NQ) || fail "connect dn target"
read -r dd4k dd128 <<<"$(run_pair dn-dn "$dev")" || fail "fio on $dev"
must $DISNVME disconnect -n $nqn-dn
dtgt_stop TERM

printf '\n%-44s %12s %14s\n' "host -> target" "4k rr QD32" "128k seq QD8"
printf '%-44s %8s IOPS %9s MiB/s\n' "disnvme host -> Linux nvmet-rdma" "$d4k" "$(mib "$d128")"
printf '%-44s %8s IOPS %9s MiB/s\n' "Linux nvme-rdma -> Linux nvmet-rdma" "$k4k" "$(mib "$k128")"
printf '%-44s %13s %15s\n' "  ratio disnvme/kernel (host)" "$(ratio "$d4k" "$k4k")" \
	"$(ratio "$d128" "$k128")"
printf '%-44s %8s IOPS %9s MiB/s\n' "disnvme host -> disnvme-target" "$dd4k" "$(mib "$dd128")"
printf '%-44s %13s %15s\n' "  ratio disnvme pair/kernel pair" "$(ratio "$dd4k" "$k4k")" \
	"$(ratio "$dd128" "$k128")"
