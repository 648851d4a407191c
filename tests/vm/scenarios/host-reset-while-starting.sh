#!/usr/bin/env bash
# A controller reset while a new block device is being started. ublk's START_DEV reads the
# partition table through the device's own queues before `disnvme connect` can return; here the
# namespace sits on dm-delay (every read takes 1.5 s at the Linux nvmet target), and the
# subsystem is unlinked from the target's port while that first read is in flight. The device
# is not listed on its controller yet, but its queue must hear about the reset all the same:
# hold the read, follow the controller to its new association once the port is back, send the
# read again. `disnvme connect` then returns with a device that reads the namespace's bytes.
# (Without it, START_DEV waits forever for a read held on the dead association.)
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_scenario_setup loop dm-delay
nqn=nqn.2014-08.org.disnvme:host-reset-start
backing=$DATA/slow.img
mib=64
dd if=/dev/urandom of="$backing" bs=1M count=$mib status=none || fail "filling $backing"
on_exit "rm -f $backing"
loop=$(losetup -f --show "$backing") || fail "losetup"
on_exit "losetup -d $loop"
# no udev in the guest: the device's node is the kernel's /dev/dm-N
dmsetup create --noudevsync dn-slow --table "0 $((mib * 2048)) delay $loop 0 1500" ||
	fail "dmsetup create"
on_exit "dmsetup remove --noudevsync --retry dn-slow"
dm=$(dmsetup info -c --noheadings -o blkdevname dn-slow) && [[ -b /dev/$dm ]] ||
	fail "no block device for dn-slow ($dm)"
knvmet_up $nqn /dev/$dm
dlog=/run/disnvme/daemon.log

# reads in flight on the ublk disk, which exists from START_DEV on (dm-delay's own count
# does not show the reads it holds)
inflight_reads() { cat /sys/block/ublkb0/inflight 2>/dev/null | awk '{ print $1 }' | grep . || echo 0; }
# wait_start_read CONNECT_PID ERR_FILE: until START_DEV's partition-table read is in flight
wait_start_read() {
	local i
	for i in $(seq 1 400); do
		(($(inflight_reads) > 0)) && return
		kill -0 $1 2>/dev/null || fail "connect ended before any read: $(cat $2)"
		sleep 0.05
	done
	fail "no read in flight on /dev/ublkb0 within 20 s"
}

$DISNVME connect -t rdma -a $TGT_ADDR -n $nqn -i 1 -k 5 -c 0.5 -l 60 >connect.out 2>connect.err &
cpid=$!
on_exit "$DISNVME disconnect-all"
# the partition-table read of START_DEV is on its way to the slow device
wait_start_read $cpid connect.err
log "a read is in flight on /dev/ublkb0 while it starts: unlinking the port for 1 s"
knvmet_unlink $nqn
sleep 1
knvmet_link $nqn

wait_gone $cpid 60 || {
	grep "resetting\|reconnected\|I/O queue" $dlog | tail -10
	fail "connect did not return within 60 s of the reset (the starting device never followed it)"
}
wait $cpid || fail "connect failed: $(cat connect.err)"
dev=$(cat connect.out)
[[ $dev == /dev/ublkb0 ]] || fail "connect printed '$dev'"
grep -q "resetting the controller" $dlog || fail "the controller was never reset: the test missed its window"
pass "connect returned $dev after a controller reset during START_DEV"

# the device reads what the namespace holds (each read waits 1.5 s at the target)
dd if="$dev" of=head.bin bs=1M count=2 iflag=direct status=none || fail "reading $dev"
head -c 2M "$backing" >want.bin
cmp head.bin want.bin || fail "$dev reads other bytes than the namespace holds"
must $DISNVME disconnect -n $nqn
[[ ! -e $dev ]] || fail "$dev left after disconnect"
pass "the device reads the namespace's bytes, and disconnects cleanly"

# ---- a disconnect while the device's start waits on a target that stays gone ----
# The partition-table read is held for the target (ctrl_loss_tmo 600 s). `disconnect` cancels
# the connect; the held read must fail at once so that the start ends and the device goes,
# rather than the disconnect waiting as long as the controller may reconnect.
n_reset=$(log_count $dlog "resetting the controller")
$DISNVME connect -t rdma -a $TGT_ADDR -n $nqn -i 1 -k 5 -c 0.5 -l 600 >connect2.out 2>connect2.err &
cpid=$!
wait_start_read $cpid connect2.err
knvmet_unlink $nqn
wait_log_more $dlog "resetting the controller" "$n_reset" 30 ||
	fail "no reset after the port went: $(tail -10 $dlog)"
log "the start's read is held for a target that is gone: disconnecting"
t0=$(date +%s%N)
$DISNVME disconnect -n $nqn >disc.out 2>&1 &
dpid=$!
if ! wait_gone $dpid 30; then
	# the daemon's devices fail their I/O once it is gone: no guest left hanging on them
	pkill -9 -f '^disnvme daemon'
	fail "disconnect still waits 30 s later, for a start held until ctrl_loss_tmo: $(tail -10 $dlog)"
fi
wait $dpid || fail "disconnect failed: $(cat disc.out)"
log "disconnect returned after $(ms_between "$t0" "$(date +%s%N)") ms"
wait $cpid && fail "the cancelled connect succeeded: $(cat connect2.out)"
grep -q "cancelled by a disconnect" connect2.err ||
	fail "the cancelled connect said: $(cat connect2.err)"
[[ ! -e /dev/ublkb0 && ! -e /dev/ublkc0 ]] || fail "a device is left after the cancelled connect"
dmn=$(pgrep -f '^disnvme daemon' | head -1)
[[ -z $dmn ]] || wait_gone "$dmn" 5 || fail "the daemon still runs with nothing to serve"
knvmet_link $nqn
pass "a disconnect cancels a start held for a gone target: the held read fails, no device is left"
host_daemon_log_clean
