#!/usr/bin/env bash
# The host daemon on a ublk driver before Linux 6.9, which has no DEL_DEV_ASYNC: the daemon
# falls back to the synchronous DEL_DEV, which waits until the device's last holder closes
# it, and holds its own ADD_DEVs off meanwhile so that none can take the number being freed
# (the wait would then last until that new device is deleted: for good). The guest's 6.12
# driver is made to refuse DEL_DEV_ASYNC as an old one does (libdn-pre69-ublk.so preloaded
# into the daemon); everything else, DEL_DEV included, runs on the real driver.
# What is shown: a disconnect removes the device; with the device held open, the disconnect
# waits for the holder while `list` still answers, a connect meanwhile waits too and gets its
# device once the holder closes; afterwards every device and the daemon are gone.
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_scenario_setup
nqa=nqn.2014-08.org.disnvme:fallback-a
nqc=nqn.2014-08.org.disnvme:fallback-c
dlog=/run/disnvme/daemon.log
shim=$DISNVME_BUILD/tests/tools/libdn-pre69-ublk.so
[[ -f $shim ]] || fail "$shim not built"
export DN_PRE69_LOG=$DISNVME_OUT/pre69.log
: >"$DN_PRE69_LOG"
refusals() { grep -c 'DEL_DEV_ASYNC refused' "$DN_PRE69_LOG"; }

sparse_file 64M $DATA/a.img
sparse_file 64M $DATA/c.img
dtgt_json $PORT $nqa $DATA/a.img $nqc $DATA/c.img >t.json
: >"$DISNVME_OUT/t.log"
dtgt_start "$DISNVME_OUT/t.log" --config t.json
# the daemon (started by the first connect) inherits the preload; ASan need not come first
export LD_PRELOAD=$shim ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

# 1. no holder: DEL_DEV returns at once
devA=$($DISNVME connect -t rdma -a $TGT_ADDR -s 4420 -n $nqa) || fail "connect A: $devA"
on_exit "$DISNVME disconnect-all"
[[ -b $devA ]] || fail "connect A printed $devA"
idA=${devA#/dev/ublkb}
must dd if=/dev/urandom of=$devA bs=64k count=16 oflag=direct status=none
must $DISNVME disconnect -n $nqa
[[ $(refusals) == 1 ]] || fail "the driver was not asked for DEL_DEV_ASYNC once: $(cat "$DN_PRE69_LOG")"
[[ ! -e $devA && ! -e /dev/ublkc$idA ]] || fail "$devA or /dev/ublkc$idA left after the disconnect"
grep -q 'DEL_DEV' $dlog && fail "the daemon logged a DEL_DEV error: $(grep DEL_DEV $dlog)"
pass "DEL_DEV_ASYNC refused as by a pre-6.9 driver; DEL_DEV removed $devA"

# 2. held open: DEL_DEV waits for the holder, and so does a connect meanwhile
devA=$($DISNVME connect -t rdma -a $TGT_ADDR -s 4420 -n $nqa) || fail "connect A again: $devA"
idA=${devA#/dev/ublkb}
python3 -c 'import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
print("open", flush=True)
time.sleep(3600)' "$devA" >hold.out 2>&1 &
hpid=$!
on_exit "kill $hpid"
for i in $(seq 1 100); do grep -q '^open' hold.out && break; sleep 0.1; done
grep -q '^open' hold.out || fail "the holder did not open $devA: $(cat hold.out)"

timeout 120 $DISNVME disconnect -n $nqa >disc.out 2>&1 &
dpid=$!
for i in $(seq 1 100); do (($(refusals) == 2)) && break; sleep 0.1; done
[[ $(refusals) == 2 ]] || fail "the disconnect did not reach DEL_DEV: $(cat "$DN_PRE69_LOG")"
timeout 120 $DISNVME connect -t rdma -a $TGT_ADDR -s 4420 -n $nqc >conn.out 2>&1 &
cpid=$!
sleep 3
kill -0 $dpid 2>/dev/null || fail "the disconnect returned with $devA held open: $(cat disc.out)"
kill -0 $cpid 2>/dev/null || fail "a connect completed during the DEL_DEV wait: $(cat conn.out)"
[[ -e $devA ]] && fail "$devA still has its node during the wait"
timeout 20 $DISNVME list -o json >list.json || fail "list does not answer during the DEL_DEV wait"
pass "held open: the disconnect waits in DEL_DEV, a connect waits for it, list answers"

t0=$(date +%s%N)
kill $hpid
wait_gone $hpid 10 || fail "the holder did not end"
log "holder gone"
wait $dpid
rc=$?
t1=$(date +%s%N)
[[ $rc == 0 ]] || fail "the disconnect exited $rc once the holder closed: $(cat disc.out)"
wait $cpid || fail "the connect failed once the holder closed: $(cat conn.out)"
devC=$(tail -1 conn.out)
[[ -b $devC ]] || fail "connect C printed $(cat conn.out)"
log "holder closed: the disconnect returned after $(ms_between $t0 $t1) ms; connect C: $devC"
must dd if=/dev/urandom of=c.bin bs=64k count=16 status=none
must dd if=c.bin of=$devC bs=64k oflag=direct status=none
must dd if=$devC of=c.back bs=64k count=16 iflag=direct status=none
cmp c.bin c.back || fail "$devC read back differs"
ls /sys/block | grep -q "^ublkb$idA\$" && [[ $devC != "$devA" ]] &&
	fail "ublkb$idA still in /sys/block after its DEL_DEV returned"
pass "holder closed: the disconnect returned, the connect got $devC and its data reads back"

must $DISNVME disconnect -n $nqc
[[ $(refusals) == 3 ]] || fail "DEL_DEV_ASYNC asked $(refusals) times, expected 3"
for i in $(seq 1 100); do pgrep -f '^disnvme daemon' >/dev/null || break; sleep 0.1; done
pgrep -f '^disnvme daemon' && fail "the daemon still runs after the last disconnect"
ls /dev/ublkb* /dev/ublkc* 2>/dev/null && fail "ublk devices left: $(ls /dev/ublk[bc]*)"
grep -q 'DEL_DEV' $dlog && fail "the daemon logged a DEL_DEV error: $(grep DEL_DEV $dlog)"
host_daemon_log_clean
dtgt_stop || fail "disnvme-target exit code $?"
pass "C disconnected; no device and no daemon left; the target exited 0"
