#!/usr/bin/env bash
# Held I/O, as during an NVMe-oF reconnect: while fio verifies, dn-ublk-file holds every
# request (SIGUSR1) for longer than the block layer's 30 s request timeout, then releases
# them (SIGUSR2), then a few short holds. Nothing may fail or time out: fio ends with zero
# verify errors and the kernel logs no I/O error. Last, a stop while I/O is held releases it
# and removes the device.
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/ublk_helpers.sh"

HOLD=40

load_modules ublk_drv
data_dir
img=$DATA/hold.img
sparse_file 256M "$img"
# --uring-only: requests are in flight in the ring (not copied inline) when the hold begins
ublk_file_start srv -q 2 -d 64 --uring-only "$img" || fail "dn-ublk-file did not start"
dev=$UBLK_DEV
b=${dev#/dev/}

# completed reads + writes (fields 1 and 5 of the block stat file)
completed() { awk '{print $1 + $5}' /sys/block/$b/stat; }
inflight() { awk '{print $1 + $2}' /sys/block/$b/inflight; }

# repeated so that fio outlasts the holds below; each loop writes, then verifies
fio_verify "$dev" --iodepth=32 --numjobs=2 --size=64M --offset_increment=64M --loops=10 &
fio_pid=$!
sleep 3
(( $(completed) > 0 )) || fail "no I/O completed before the hold"

kill -USR1 "$UBLK_PID"
sleep 2
c0=$(completed)
sleep $HOLD
c1=$(completed)
n=$(inflight)
kill -0 $fio_pid 2>/dev/null || fail "fio ended during the hold"
[[ $c0 == "$c1" ]] || fail "I/O completed while held: $c0 -> $c1"
(( n >= 8 )) || fail "only $n requests in flight during the hold"
kill -USR2 "$UBLK_PID"
sleep 2
(( $(completed) > c1 )) || fail "I/O did not resume after release"
pass "held $n in-flight requests for ${HOLD}s (no completions), then released them"

for hold in 1 3 5; do
	kill -USR1 "$UBLK_PID"; sleep $hold; kill -USR2 "$UBLK_PID"; sleep 1
done
wait $fio_pid || fail "fio verify failed after holds"
dmesg | grep -i "ublkb.*error\|I/O error\|blocked for more" && fail "kernel logged errors"
pass "fio randwrite 4k..128k QD32 x2 + crc32c verify across holds: no errors, no timeouts"

# stop while requests are held: stop_queue releases them, the device goes away
dd if=/dev/urandom of="$dev" bs=64k count=2000 oflag=direct status=none &
dd_pid=$!
sleep 1
kill -USR1 "$UBLK_PID"
sleep 2
(( $(inflight) > 0 )) || fail "dd has nothing in flight"
ublk_file_stop || fail "stop while I/O was held"
wait $dd_pid
pass "stop with held I/O: released, device removed, no process left (dd exit $?)"
