#!/usr/bin/env bash
# A disconnect while a process holds the block device open (as a mounted file system does)
# returns at once, as `nvme disconnect` does: the device node is gone, the holder reads nothing,
# a connect meanwhile gets a device of its own, and the kernel frees the old device once the
# holder closes it. The ublk driver's synchronous DEL_DEV would instead wait for the holder
# (and, were another connect to take the freed number first, for good).
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_scenario_setup
nqa=nqn.2014-08.org.disnvme:held-a
nqc=nqn.2014-08.org.disnvme:held-c
dlog=/run/disnvme/daemon.log

sparse_file 64M $DATA/a.img
sparse_file 64M $DATA/c.img
dtgt_json $PORT $nqa $DATA/a.img $nqc $DATA/c.img >t.json
: >"$DISNVME_OUT/t.log"
dtgt_start "$DISNVME_OUT/t.log" --config t.json

devA=$($DISNVME connect -t rdma -a $TGT_ADDR -s 4420 -n $nqa) || fail "connect A: $devA"
on_exit "$DISNVME disconnect-all"
[[ -b $devA ]] || fail "connect A printed $devA"
idA=${devA#/dev/ublkb}
must dd if=/dev/urandom of=$devA bs=64k count=16 oflag=direct status=none
pass "A connected: $devA"

# the holder: opens the device, says so, and reads it (O_DIRECT: not the page cache) at each
# SIGUSR1, printing the outcome
cat >hold.py <<'PY'
import mmap, os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
print("open", flush=True)
while True:
    signal.sigwait([signal.SIGUSR1])
    try:
        print("read", os.preadv(fd, [buf], 0), flush=True)
    except OSError as e:
        print("error", e.errno, flush=True)
PY
python3 hold.py "$devA" >hold.out 2>&1 &
hpid=$!
on_exit "kill $hpid"
# hold_read N: have the holder read, wait for its Nth outcome
hold_read() {
	local i
	kill -USR1 $hpid
	for i in $(seq 1 100); do
		(($(grep -c '^read\|^error' hold.out) >= $1)) && return 0
		sleep 0.1
	done
	fail "the holder did not read: $(cat hold.out)"
}
for i in $(seq 1 100); do grep -q '^open' hold.out && break; sleep 0.1; done
grep -q '^open' hold.out || fail "the holder did not open $devA: $(cat hold.out)"
hold_read 1
grep -q '^read 4096' hold.out || fail "the holder cannot read $devA: $(cat hold.out)"
pass "$devA held open by pid $hpid"

t0=$(date +%s%N)
timeout 60 $DISNVME disconnect -n $nqa >disc.out 2>&1
rc=$?
t1=$(date +%s%N)
log "disconnect with $devA held open: exit $rc after $(ms_between $t0 $t1) ms: $(cat disc.out)"
[[ $rc == 0 ]] || fail "disconnect of A while its device is held open: exit $rc: $(cat disc.out)"
kill -0 $hpid 2>/dev/null || fail "the holder ended: $(cat hold.out)"
[[ ! -e $devA ]] || fail "$devA still exists after the disconnect"
[[ ! -e /dev/ublkc$idA ]] || fail "/dev/ublkc$idA still exists after the disconnect"
pass "A disconnected while $devA is held open; its nodes are gone"

hold_read 2
# the dead disk's size is 0: a read finds its end (or fails), never the old data
tail -1 hold.out | grep -q '^read 0$\|^error' ||
	fail "the holder still reads the removed device: $(tr '\n' ' ' <hold.out)"
pass "the holder's read of the removed device gets nothing: $(tail -1 hold.out)"

# the held device keeps its number until the holder closes it: the connect gets another
devC=$($DISNVME connect -t rdma -a $TGT_ADDR -s 4420 -n $nqc) || fail "connect C: $devC"
[[ -b $devC && $devC != "$devA" ]] || fail "connect C printed $devC"
must dd if=/dev/urandom of=c.bin bs=64k count=16 status=none
must dd if=c.bin of=$devC bs=64k oflag=direct status=none
must dd if=$devC of=c.back bs=64k count=16 iflag=direct status=none
cmp c.bin c.back || fail "$devC read back differs"
pass "C connected while $devA's number is held: $devC, data read back"

kill $hpid
wait_gone $hpid 10 || fail "the holder did not end"
for i in $(seq 1 100); do
	grep -q "^ublkb$idA\$" <(ls /sys/block) || break
	sleep 0.1
done
ls /sys/block | grep -q "^ublkb$idA\$" && fail "ublkb$idA still in /sys/block after the holder closed it"
must $DISNVME disconnect -n $nqc
for i in $(seq 1 100); do pgrep -f '^disnvme daemon' >/dev/null || break; sleep 0.1; done
pgrep -f '^disnvme daemon' && fail "the daemon still runs after the last disconnect"
grep -q 'DEL_DEV' $dlog && fail "the daemon logged a DEL_DEV error: $(grep DEL_DEV $dlog)"
host_daemon_log_clean
dtgt_stop || fail "disnvme-target exit code $?"
pass "C disconnected, the daemon ended, the target exited 0"
