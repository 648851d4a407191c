#!/usr/bin/env bash
# The RDMA device goes away under live connections (rxe deleted, as a NIC reset or a driver
# reload does) and comes back. The kernel removes a device only once every process has closed
# its verbs context and every file of it (rxe cannot take them away), so a program that keeps
# them blocks `rdma link del` for as long as it runs.
# 1. disnvme-target with the Linux host connected: the removal completes within 30 s, the
#    target logs it, releases the device, and listens again once the device is back. (nvme-rdma
#    deletes its controller when its device goes; connected again, it reads back what it wrote.)
# 2. The disnvme host on disnvme-target (both on the device: a local address is reached over
#    rxe's loopback): the device is removed five times, for 1..10 s, under fio crc32c write +
#    verify passes: every removal completes, the host holds the I/O and reconnects, zero errors.
# 3. The disnvme host on the Linux nvmet-rdma target: the same, once. (nvmet-rdma does not
#    listen again by itself: its port is re-enabled by hand, as an administrator would.)
# The time each removal took is printed (devrm-times.txt), not asserted beyond the 30 s bound.
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_scenario_setup
nqn=nqn.2014-08.org.disnvme:devrm
backing=$DATA/devrm.img
sparse_file 256M "$backing"
tlog=$DISNVME_OUT/target.log
dlog=/run/disnvme/daemon.log
rm_times=$DISNVME_OUT/devrm-times.txt
: >"$rm_times"
dtgt_start "$tlog" -t rdma -a $TGT_ADDR -n $nqn --ns "$backing"
# a removal blocked by a process of ours would outlive the scenario: they go first on failure
on_exit "pkill -9 -x 'disnvme|disnvme-target'"


# the device under disnvme-target goes, and comes back: the target must listen again
again="listening on rdma $TGT_ADDR:$PORT (port 1) again"
tgt_down() {
	n_listen=$(log_count "$tlog" "$again")
	rxe_remove "$rm_times"
}
tgt_back() {
	rxe_add
	wait_log_more "$tlog" "$again" "$n_listen" 20 ||
		fail "the target does not listen again: $(tail -20 "$tlog")"
}

# ---- 1. the Linux host on disnvme-target ----
khost_connect $nqn $TGT_ADDR --reconnect-delay=1 --ctrl-loss-tmo=60
kdev=$(khost_ns_dev $nqn) || fail "no /dev/nvmeXnY for $nqn"
head -c 16M /dev/urandom >"$DISNVME_OUT/pattern.bin"
must dd if="$DISNVME_OUT/pattern.bin" of="$kdev" bs=1M oflag=direct status=none
tgt_down
grep -q "rdma: listener $TGT_ADDR:$PORT: its RDMA device was removed" "$tlog" ||
	fail "the target did not log the removal: $(tail -20 "$tlog")"
wait_log_more "$tlog" "rdma: device rxet released" 0 10 ||
	fail "the target did not release the device: $(tail -20 "$tlog")"
pass "disnvme-target with the Linux host connected: the removal completed, device released"
tgt_back
# nvme-rdma deleted its controller with its device (its policy); a new connect must work
for i in $(seq 1 50); do [[ -e $kdev ]] || break; sleep 0.2; done
khost_connect $nqn $TGT_ADDR
kdev=$(khost_ns_dev $nqn) || fail "no /dev/nvmeXnY for $nqn after the device came back"
must dd if="$kdev" of="$DISNVME_OUT/readback.bin" bs=1M count=16 iflag=direct status=none
cmp -s "$DISNVME_OUT/pattern.bin" "$DISNVME_OUT/readback.bin" ||
	fail "the data read back after the device came back differs"
must nvme disconnect -n $nqn
pass "disnvme-target listens again on the returned device; the Linux host reads its data back"

# ---- 2. the disnvme host on disnvme-target, five removals under fio ----
dev=$($DISNVME connect -t rdma -a $TGT_ADDR -n $nqn -i 2 -k 5 -c 0.5 -l 120) ||
	fail "connect: $dev"
on_exit "$DISNVME disconnect-all"
[[ $dev == /dev/ublkb0 ]] || fail "connect printed $dev"
outages_under_fio "$dev" "$DISNVME_OUT/devrm-outage-times.txt" tgt_down tgt_back \
	"RDMA device rxet removed"
pass "$FIO_LOOP_PASSES fio write+verify passes across 5 removals of the RDMA device: zero errors"
# while the device is gone an attempt sends nothing: it must not count as a silent target
# (whose wait doubles), or the host finds the device's return seconds late
(($(log_count $dlog "(not sent: no route or RDMA device here yet)") > 0)) ||
	fail "attempts without an RDMA device were taken for a silent target: $(grep 'reconnect failed' $dlog | tail -3)"
grep "reconnect failed" $dlog | grep "no RDMA device" | grep "backing off" &&
	fail "the host backed off while it had no RDMA device"
pass "attempts without the device are made every reconnect_delay, without backing off"
must $DISNVME disconnect -n $nqn
[[ ! -e $dev ]] || fail "$dev left after disconnect"
dtgt_stop || fail "disnvme-target exited with $?"
grep -E "ERROR: (Address|Leak)Sanitizer|runtime error" "$tlog" && fail "target sanitizer error"

# ---- 3. the disnvme host on the Linux nvmet-rdma target, one removal under fio ----
knvmet_up $nqn "$backing"
dev=$($DISNVME connect -t rdma -a $TGT_ADDR -n $nqn -i 2 -k 5 -c 0.5 -l 120) ||
	fail "connect to nvmet: $dev"
fio_loop_start "$dev"
sleep 4
fio_loop_alive
n_rc=$(log_count $dlog "reconnected as controller")
rxe_remove "$rm_times"
sleep 2
rxe_add
# nvmet-rdma dropped its listener with the device: re-enable the port
knvmet_unlink $nqn
knvmet_link $nqn
wait_log_more $dlog "reconnected as controller" "$n_rc" 30 ||
	fail "no reconnect to nvmet after the device came back: $(tail -20 $dlog)"
sleep 3
fio_loop_stop
pass "the disnvme host on nvmet-rdma: held I/O across the removal, reconnected, $FIO_LOOP_PASSES fio passes with zero errors"
must $DISNVME disconnect -n $nqn
[[ ! -e $dev ]] || fail "$dev left after disconnect"
cat "$rm_times"
host_daemon_log_clean
