#!/usr/bin/env bash
# A target that stops answering without closing anything (disnvme-target frozen with SIGSTOP
# for 8 s) during fio random write + verify: the host's keep-alive times out, the controller
# resets, I/O is held while reconnect attempts fail, and once the target runs again the host
# reconnects and resends: fio ends with zero errors.
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_scenario_setup
nqn=nqn.2014-08.org.disnvme:host-target-stall
sparse_file 256M $DATA/st.img
dtgt_config st.json $nqn $DATA/st.img
tlog=$DISNVME_OUT/target.log
: >"$tlog"
dtgt_start "$tlog" --config st.json
on_exit "kill -CONT $DTGT_PID"

dev=$($DISNVME connect -t rdma -a $TGT_ADDR -n $nqn -i 2 -k 4 -c 1 -l 120) || fail "connect: $dev"
on_exit "$DISNVME disconnect-all"

fio --name=st --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite --bsrange=4k-128k \
	--iodepth=32 --numjobs=2 --size=96M --offset_increment=96M --verify=crc32c \
	--verify_fatal=1 --do_verify=1 --randrepeat=1 --group_reporting >fio.txt 2>&1 &
fio_pid=$!
sleep 5
kill -0 $fio_pid 2>/dev/null || fail "fio ended before the stall: $(tail fio.txt)"
kill -STOP $DTGT_PID
log "target frozen"
sleep 8
kill -CONT $DTGT_PID
log "target running again"
wait $fio_pid || { tail -30 fio.txt; tail -30 /run/disnvme/daemon.log; fail "fio failed"; }
grep -q "err= 0" fio.txt || fail "fio reported errors: $(grep err= fio.txt)"
grep -q "keep alive timed out" /run/disnvme/daemon.log ||
	fail "no keep-alive timeout in the daemon log: $(tail -20 /run/disnvme/daemon.log)"
grep -q "reconnected as controller" /run/disnvme/daemon.log || fail "no reconnect logged"
grep -E "timed out|resetting|reconnected" /run/disnvme/daemon.log
pass "fio write + verify across an 8 s target stall: keep-alive reset, reconnect, zero errors"
must $DISNVME disconnect -n $nqn
host_daemon_log_clean
