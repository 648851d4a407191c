#!/usr/bin/env bash
# Controller reset: the Linux nvmet target drops the association (its port loses the
# subsystem) in the middle of fio random write + verify and gets it back 3 s later. The disnvme
# host keeps /dev/ublkb0, holds the I/O, reconnects (admin and I/O queues) and sends the held
# commands again: fio ends with zero errors and verifies everything it wrote.
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_lsan_setup
topo_up
load_modules ublk_drv
data_dir
nqn=nqn.2014-08.org.disnvme:host-reconnect
backing=$DATA/rc.img
truncate -s 256M "$backing" && on_exit "rm -f $backing"
knvmet_up $nqn "$backing"

dev=$($DISNVME connect -t rdma -a $TGT_ADDR -n $nqn -i 2 -k 5 -c 1 -l 60) || fail "connect: $dev"
on_exit "$DISNVME disconnect-all"
[[ $dev == /dev/ublkb0 ]] || fail "connect printed $dev"

fio --name=rc --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite --bsrange=4k-128k \
	--iodepth=32 --numjobs=2 --size=96M --offset_increment=96M --verify=crc32c \
	--verify_fatal=1 --do_verify=1 --randrepeat=1 --group_reporting >fio.txt 2>&1 &
fio_pid=$!
sleep 6
kill -0 $fio_pid 2>/dev/null || fail "fio ended before the outage: $(tail fio.txt)"
rm "$KNVMET/ports/1/subsystems/$nqn" || fail "unlink the subsystem from the port"
log "target: subsystem unlinked from its port"
sleep 3
ln -s "$KNVMET/subsystems/$nqn" "$KNVMET/ports/1/subsystems/$nqn" || fail "relink"
log "target: subsystem linked again"
wait $fio_pid || { tail -30 fio.txt; tail -30 /run/disnvme/daemon.log; fail "fio failed"; }
grep -q "err= 0" fio.txt || fail "fio reported errors: $(grep err= fio.txt)"
grep -q "reconnected as controller" /run/disnvme/daemon.log ||
	fail "the daemon log shows no reconnect: $(tail -20 /run/disnvme/daemon.log)"
grep "resetting the controller\|reconnected" /run/disnvme/daemon.log
pass "fio write + verify across a 3 s target outage: zero errors"

$DISNVME list -o json >list.json
python3 -c 'import json; c = json.load(open("list.json"))["controllers"][0]; assert c["state"] == "live", c' ||
	fail "controller not live after the reconnect: $(cat list.json)"
must $DISNVME disconnect -n $nqn
[[ ! -e $dev ]] || fail "$dev left after disconnect"
pass "live again, and disconnect is clean"
host_daemon_log_clean
