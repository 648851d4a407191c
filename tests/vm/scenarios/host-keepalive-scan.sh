#!/usr/bin/env bash
# Keep-alive while a namespace scan creates devices: disnvme-target enforces a 1 s KATO and
# exports 12 namespaces; `disnvme connect -k 1 -i 4` creates their ublk devices (each one
# registers buffers, connects its I/O queues and starts ublk, and the I/O queue Connects do not
# count as traffic on the controller). Busy loops load the guest's CPUs meanwhile, as on a busy
# host, so that making one device takes longer than the KATO (an idle TCG guest is sometimes
# just fast enough). The controller thread, asleep between keep-alives, still gets a CPU in
# time to send each one, and must keep doing so while devices are made: the connect succeeds with all 12 devices, the target logs
# no keep-alive timeout and the host no reset. Then an AEN-driven rescan adds 4 more namespaces
# at runtime (the target's SIGHUP reload) under the same rule. Last, a reset in the middle of a
# rescan (the target frozen while devices are made): every device is there afterwards and reads.
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_scenario_setup
nqn=nqn.2014-08.org.disnvme:host-keepalive-scan
nr=12

write_config() { # NUMBER_OF_NAMESPACES
	local i sep=
	{
		cat <<JSON
{
  "ports": [ { "trtype": "rdma", "adrfam": "ipv4", "traddr": "$TGT_ADDR", "trsvcid": "$PORT" } ],
  "subsystems": [ { "nqn": "$nqn", "allow_any_host": true, "namespaces": [
JSON
		for i in $(seq 1 "$1"); do
			printf '%s    { "nsid": %d, "path": "%s" }\n' "$sep" "$i" "$DATA/ka$i.img"
			sep=,
		done
		echo '  ] } ]'
		echo '}'
	} >ka.json
}
for i in $(seq 1 16); do
	sparse_file 16M "$DATA/ka$i.img"
done
write_config $nr
tlog=$DISNVME_OUT/target.log
: >"$tlog"
dtgt_start "$tlog" --config ka.json

# two busy loops per CPU of the guest, until cpu_load_stop
HOGS=()
cpu_load_start() {
	local i
	for i in $(seq 1 $((2 * $(nproc)))); do
		(while :; do :; done) &
		HOGS+=($!)
	done
	on_exit "kill ${HOGS[*]} 2>/dev/null"
	log "CPU load: ${#HOGS[@]} busy loops"
}
cpu_load_stop() {
	kill "${HOGS[@]}" 2>/dev/null
	wait "${HOGS[@]}" 2>/dev/null
	HOGS=()
}
# wait_for SECONDS COMMAND...: until COMMAND succeeds or SECONDS have passed
wait_for() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		(($(date +%s) < end)) || return 1
		sleep 0.2
	done
}
count_ns() {
	$DISNVME list -o json | python3 -c \
		'import json,sys; print(sum(len(c["namespaces"]) for c in json.load(sys.stdin)["controllers"]))'
}
ns_are() { [[ $(count_ns) == "$1" ]]; }

cpu_load_start
t0=$(date +%s%N)
out=$($DISNVME connect -t rdma -a $TGT_ADDR -s $PORT -n $nqn -k 1 -i 4 -Q 128 2>&1)
rc=$?
t1=$(date +%s%N)
on_exit "$DISNVME disconnect-all"
log "connect took $(ms_between $t0 $t1) ms, exit $rc"
grep -E "keep-alive|controller .* (created|deleted)" "$tlog" | tail -5
[[ $rc == 0 ]] || fail "connect failed: $out; daemon log: $(tail -20 /run/disnvme/daemon.log)"
[[ $(echo "$out" | grep -c '^/dev/ublkb') == "$nr" ]] || fail "connect printed: $out"
if grep -q "keep-alive timeout" "$tlog"; then
	fail "the target timed the controller out during the scan: $(grep 'keep-alive' "$tlog")"
fi
if grep -q "resetting the controller" /run/disnvme/daemon.log; then
	fail "the host reset the controller during the scan: $(grep resetting /run/disnvme/daemon.log)"
fi
pass "connect -k 1: $nr devices, no keep-alive timeout on either side"

# a runtime rescan (Namespace Attribute Changed) creating 4 more devices, same rule
write_config 16
kill -HUP $DTGT_PID
wait_for 120 ns_are 16 || fail "the rescan left $(count_ns) devices: $(tail -20 /run/disnvme/daemon.log)"
sleep 3 # a few keep-alive periods after the rescan
cpu_load_stop
if grep -q "keep-alive timeout" "$tlog"; then
	fail "the target timed the controller out during the rescan: $(grep 'keep-alive' "$tlog")"
fi
if grep -q "resetting the controller" /run/disnvme/daemon.log; then
	fail "the host reset the controller during the rescan"
fi
$DISNVME list -o json | python3 -c '
import json, sys
c = json.load(sys.stdin)["controllers"]
assert len(c) == 1 and c[0]["state"] == "live", c
assert sorted(n["nsid"] for n in c[0]["namespaces"]) == list(range(1, 17)), c
' || fail "list after the rescan: $($DISNVME list -o json)"
pass "AEN rescan -k 1: 16 devices, no keep-alive timeout on either side"

# A reset while a rescan creates devices: namespaces 13..16 go and come back; once the first
# of them has its device again the target freezes for 3 s (keep-alive timeout, reset), so the
# devices still being made fail. After the reconnect every namespace must have its device
# (a scan that failed across a reset runs again) and every device must serve I/O on the new
# association, those made before the reset included.
write_config 12
kill -HUP $DTGT_PID
wait_for 60 ns_are 12 || fail "namespaces 13..16 did not go: $(tail -20 /run/disnvme/daemon.log)"
n0=$(grep -c "namespace 13: /dev/ublkb" /run/disnvme/daemon.log)
write_config 16
kill -HUP $DTGT_PID
for i in $(seq 1 600); do
	(($(grep -c "namespace 13: /dev/ublkb" /run/disnvme/daemon.log) > n0)) && break
	sleep 0.05
done
kill -STOP $DTGT_PID
log "target frozen during the rescan, with $(count_ns 2>/dev/null || echo '?') devices listed"
sleep 3
kill -CONT $DTGT_PID
reset_done() { grep -q "reconnected as controller" /run/disnvme/daemon.log && ns_are 16; }
wait_for 120 reset_done
grep -E "resetting|reconnected|rescan" /run/disnvme/daemon.log | tail -8
grep -q "reconnected as controller" /run/disnvme/daemon.log ||
	fail "no reset and reconnect: $(tail -20 /run/disnvme/daemon.log)"
[[ $(count_ns) == 16 ]] || fail "after the reset $(count_ns) devices: $($DISNVME list -o json)"
for dev in $($DISNVME list -o json | python3 -c \
	'import json,sys; [print(n["device"]) for c in json.load(sys.stdin)["controllers"] for n in c["namespaces"]]'); do
	dd if=$dev of=/dev/null bs=4k count=64 iflag=direct status=none || fail "reading $dev failed"
done
$DISNVME list -o json | python3 -c '
import json, sys
c = json.load(sys.stdin)["controllers"]
assert len(c) == 1 and c[0]["state"] == "live", c
' || fail "the controller is not live: $($DISNVME list -o json)"
pass "a reset during a rescan: 16 devices afterwards, each one reads"

must $DISNVME disconnect -n $nqn
host_daemon_log_clean
dtgt_stop TERM || fail "disnvme-target exited $? on SIGTERM"
pass "disnvme-target exited 0"
