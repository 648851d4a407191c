#!/usr/bin/env bash
# Keep-alive while a namespace scan creates devices: disnvme-target enforces a 1 s KATO and
# exports 12 namespaces; `disnvme connect -k 1 -i 4` creates their ublk devices (each one
# registers buffers, connects 4 I/O queues and starts ublk: well over a second under TCG, and
# the I/O queue Connects do not count as traffic on the controller). The controller thread must
# keep sending Keep Alive meanwhile: the connect succeeds with all 12 devices, the target logs
# no keep-alive timeout and the host no reset. Then an AEN-driven rescan adds 4 more namespaces
# at runtime (the target's SIGHUP reload) under the same rule.
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_lsan_setup
topo_up
load_modules ublk_drv
data_dir
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
	truncate -s 16M "$DATA/ka$i.img" && on_exit "rm -f $DATA/ka$i.img"
done
write_config $nr
tlog=$DISNVME_OUT/target.log
: >"$tlog"
dtgt_start "$tlog" --config ka.json

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
for i in $(seq 1 600); do
	n=$($DISNVME list -o json | python3 -c \
		'import json,sys; print(sum(len(c["namespaces"]) for c in json.load(sys.stdin)["controllers"]))')
	[[ $n == 16 ]] && break
	sleep 0.1
done
[[ $n == 16 ]] || fail "the rescan left $n devices: $(tail -20 /run/disnvme/daemon.log)"
sleep 3 # a few keep-alive periods after the rescan
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

must $DISNVME disconnect -n $nqn
host_daemon_log_clean
dtgt_stop TERM || fail "disnvme-target exited $? on SIGTERM"
pass "disnvme-target exited 0"
