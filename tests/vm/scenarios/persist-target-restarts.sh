#!/usr/bin/env bash
# Persistence, issue 5 point 2: fio crc32c random write + verify runs on /dev/ublkb0 while
# disnvme-target is killed with SIGKILL and restarted 5 times (outages of 1, 3, 5, 7 and 10 s).
# Every fio pass ends with zero errors and its verify phase reads back all it wrote. For each
# restart the scenario measures the time from starting disnvme-target to a read through the
# device completing (the read was issued during the outage and held), and writes the figures
# to restart-times.txt (printed; not asserted: timing is for benchmarks, not tests).
#
# Then two more properties of the reconnect loop:
# - backoff: with the target's address gone, an attempt cannot leave this machine, so the
#   next one follows after reconnect_delay; with the target frozen (SIGSTOP: no answer at
#   all), the waits between attempts double from reconnect_delay; once the target answers
#   again the device comes back;
# - fast_io_fail_tmo: with -F 2 an outage fails I/O with EIO after 2 s instead of holding it,
#   the device stays, and I/O works again once the target is back.
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_scenario_setup
nqn=nqn.2014-08.org.disnvme:restarts
backing=$DATA/restarts.img
sparse_file 256M "$backing"
dtgt_config dt.json $nqn "$backing"
tlog=$DISNVME_OUT/target.log
: >"$tlog"
dlog=/run/disnvme/daemon.log
dtgt_start "$tlog" --config dt.json

dev=$($DISNVME connect -t rdma -a $TGT_ADDR -n $nqn -i 2 -k 5 -c 0.1 -l -1) ||
	fail "connect: $dev"
on_exit "$DISNVME disconnect-all"
[[ $dev == /dev/ublkb0 ]] || fail "connect printed $dev"

# ---- 5 x SIGKILL + restart under fio ----
kill_target() { kill -9 $DTGT_PID; wait $DTGT_PID 2>/dev/null; DTGT_PID=; }
start_target() { dtgt_start "$tlog" --config dt.json; }
# where the time went, from the logs: the target starting up (exec to its "listening" line),
# the host's next attempt and admin queue ("reconnected"), then the I/O queues and the read
log_times() {
	local tl tr
	tl=$(grep 'listening on rdma' "$tlog" | tail -1 | cut -d' ' -f1)
	tr=$(grep 'reconnected as controller' $dlog | tail -1 | cut -d' ' -f1)
	printf '    started %s -> target listening %s: %d ms -> host reconnected %s: %d ms\n' \
		"$OUTAGE_UP" "$tl" $(($(hms_ms "$tl") - $(hms_ms "$OUTAGE_UP"))) "$tr" \
		$(($(hms_ms "$tr") - $(hms_ms "$tl")))
}
outages_under_fio "$dev" "$DISNVME_OUT/restart-times.txt" kill_target start_target \
	"SIGKILL (disnvme-target down)" log_times
pass "$FIO_LOOP_PASSES fio write+verify passes across 5 SIGKILL restarts: zero errors"
grep "reconnected as controller" $dlog | tail -5
[[ $($DISNVME list -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["controllers"][0]["state"])') == live ]] ||
	fail "controller not live after the restarts"

# ---- the address gone: nothing can be sent, attempts go on at reconnect_delay ----
# (counted from before the kill: the first attempt may fail on the missing route at once, and
# the same failure again is not logged)
n0=$(wc -l <$dlog)
kill_target
must ip addr del $TGT_ADDR/24 dev vt
log "target killed and its address removed"
sleep 4
must ip addr add $TGT_ADDR/24 dev vt
dtgt_start "$tlog" --config dt.json
t0=$(date +%s%N)
probe_start "$dev"
probe_wait
log "address back: I/O flowed again $(ms_between "$t0" "$PROBE_END") ms after the target started"
tail -n +$((n0 + 1)) $dlog | grep "reconnect failed: .*next attempt in" >noroute.txt
cat noroute.txt
grep -q "(not sent: no route or RDMA device here yet)" noroute.txt ||
	fail "attempts without a route were not taken for local failures: $(cat noroute.txt)"
grep -E "Network is unreachable|no route to it" noroute.txt | grep "backing off" &&
	fail "the host backed off while it had no route to the target"
pass "no route to the target: attempts every reconnect_delay, without backing off"

# ---- no answer at all (the target frozen): the waits double ----
n0=$(wc -l <$dlog)
kill -STOP $DTGT_PID
on_exit "kill -CONT $DTGT_PID"
log "target frozen (SIGSTOP): nothing answers"
# keep-alive (KATO 5 s) notices; then each attempt waits 4 s for an answer before the next wait
for i in $(seq 1 600); do
	(($(tail -n +$((n0 + 1)) $dlog | grep -c "next attempt in .*(no answer") >= 4)) && break
	sleep 0.1
done
kill -CONT $DTGT_PID
t0=$(date +%s%N)
probe_start "$dev"
probe_wait
log "target thawed: I/O flowed again $(ms_between "$t0" "$PROBE_END") ms later"
tail -n +$((n0 + 1)) $dlog | grep "reconnect failed: .*next attempt in" >backoff.txt
cat backoff.txt
python3 - <<'PY' || fail "the waits did not back off: $(cat backoff.txt)"
import re
w = [int(m.group(1)) for m in re.finditer(r"next attempt in (\d+) ms \(no answer", open("backoff.txt").read())]
# 100, 200, 400, 800 ms ...: each wait twice the one before
assert len(w) >= 4, w
assert all(b == 2 * a for a, b in zip(w, w[1:])), w
assert w[0] == 100, w
PY
pass "no answer: the waits doubled from reconnect_delay ($(grep -o 'attempt in [0-9]* ms' backoff.txt | grep -o '[0-9]*' | tr '\n' ' ')ms)"

# ---- fast_io_fail_tmo ----
must $DISNVME disconnect -n $nqn
dev=$($DISNVME connect -t rdma -a $TGT_ADDR -n $nqn -i 1 -k 5 -c 0.5 -l -1 -F 2) ||
	fail "connect -F 2: $dev"
must dd if=/dev/urandom of=pattern.bin bs=1M count=1 status=none
must dd if=pattern.bin of="$dev" bs=1M count=1 oflag=direct status=none
kill_target
log "target killed (fast_io_fail_tmo 2 s)"
t0=$(date +%s%N)
if dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct status=none 2>dd.err; then
	fail "a read during the outage succeeded"
fi
t1=$(date +%s%N)
grep -q "Input/output error" dd.err || fail "the read failed, but not with EIO: $(cat dd.err)"
log "read failed with EIO after $(ms_between "$t0" "$t1") ms"
grep -q "not back within fast_io_fail_tmo (2 s): failing I/O" $dlog ||
	fail "no fast_io_fail_tmo line: $(tail $dlog)"
[[ -b $dev ]] || fail "$dev went away with fast_io_fail_tmo"
must_fail dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct status=none
pass "fast_io_fail_tmo: I/O fails with EIO during the outage, $dev stays"
dtgt_start "$tlog" --config dt.json
for i in $(seq 1 100); do
	[[ $($DISNVME list -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["controllers"][0]["state"])') == live ]] && break
	sleep 0.1
done
must cmp <(dd if="$dev" bs=1M count=1 iflag=direct status=none) pattern.bin
pass "fast_io_fail_tmo: after the reconnect $dev reads back what was written before the outage"

must $DISNVME disconnect -n $nqn
host_daemon_log_clean
dtgt_stop TERM || fail "disnvme-target exited $? on SIGTERM"
