#!/usr/bin/env bash
# The daemon serves requests while a connect is in progress. With subsystem A connected:
# 1. a connect to a frozen disnvme-target (SIGSTOP after listening: the CM connect waits until
#    it times out): `list -o json` answers, and shows A, while that connect still runs;
# 2. a slow connect (32 namespaces, -i 8: seconds of device creation): A is
#    disconnected, list answers and a second connect to the same subsystem is refused as a
#    duplicate (three clients at once), all while the first connect still runs; it then
#    succeeds with 32 devices;
# 3. disconnect-all during a connect: the connect is cancelled (fails with the reason),
#    disconnect-all returns once its devices are gone, and the auto-started daemon exits.
# Times are printed, not asserted: what is checked is that the answers came while the connect
# process still existed.
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_scenario_setup
nqa=nqn.2014-08.org.disnvme:conc-a
nqb=nqn.2014-08.org.disnvme:conc-b
nqc=nqn.2014-08.org.disnvme:conc-c
dlog=/run/disnvme/daemon.log

sparse_file 64M $DATA/a.img
sparse_file 16M $DATA/c.img
nsb=
for i in $(seq 1 32); do
	sparse_file 16M $DATA/b$i.img
	nsb="$nsb${nsb:+,} { \"nsid\": $i, \"path\": \"$DATA/b$i.img\" }"
done
cat >t1.json <<JSON
{
  "ports": [ { "trtype": "rdma", "adrfam": "ipv4", "traddr": "$TGT_ADDR", "trsvcid": "4420" } ],
  "subsystems": [
    { "nqn": "$nqa", "allow_any_host": true, "namespaces": [ { "nsid": 1, "path": "$DATA/a.img" } ] },
    { "nqn": "$nqb", "allow_any_host": true, "namespaces": [ $nsb ] } ]
}
JSON
cat >t2.json <<JSON
{
  "ports": [ { "trtype": "rdma", "adrfam": "ipv4", "traddr": "$TGT_ADDR", "trsvcid": "4421" } ],
  "subsystems": [
    { "nqn": "$nqc", "allow_any_host": true, "namespaces": [ { "nsid": 1, "path": "$DATA/c.img" } ] } ]
}
JSON
: >"$DISNVME_OUT/t1.log"
: >"$DISNVME_OUT/t2.log"
dtgt_start "$DISNVME_OUT/t1.log" --config t1.json
T1=$DTGT_PID
dtgt_start "$DISNVME_OUT/t2.log" --config t2.json
T2=$DTGT_PID

devA=$($DISNVME connect -t rdma -a $TGT_ADDR -s 4420 -n $nqa) || fail "connect A: $devA"
on_exit "$DISNVME disconnect-all"
[[ -b $devA ]] || fail "connect A printed $devA"
pass "A connected: $devA"

# list -o json must show A live and nothing of subsystem $1
check_list() { # FILE ABSENT_NQN
	python3 - "$1" "$nqa" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
nqns = [c["subsysnqn"] for c in d["controllers"]]
assert sys.argv[2] in nqns and sys.argv[3] not in nqns, nqns
assert all(c["state"] == "live" for c in d["controllers"]), d
PY
}

# ---- 1. a connect to a frozen target ----
kill -STOP $T2
on_exit "kill -CONT $T2"
log "target 2 ($T2) frozen after listening"
$DISNVME connect -t rdma -a $TGT_ADDR -s 4421 -n $nqc >c.out 2>&1 &
cpid=$!
# the daemon's connect request is on the wire once its CM ID points at the frozen port
for i in $(seq 1 100); do
	rdma res show cm_id 2>/dev/null | grep -q "dst-addr $TGT_ADDR:4421" && break
	sleep 0.1
done
rdma res show cm_id | grep "$TGT_ADDR:4421" || fail "no CM connect to the frozen target seen"
kill -0 $cpid 2>/dev/null || fail "the connect to the frozen target already ended: $(cat c.out)"
t0=$(date +%s%N)
$DISNVME list -o json >l1.json || fail "list during the connect failed: $(cat l1.json)"
t1=$(date +%s%N)
kill -0 $cpid 2>/dev/null ||
	fail "list answered only after the connect ended ($(ms_between $t0 $t1) ms): $(cat c.out)"
check_list l1.json $nqc || fail "list during the connect: $(cat l1.json)"
pass "list answered in $(ms_between $t0 $t1) ms while the connect to the frozen target ran"
wait $cpid && fail "connect to a frozen target succeeded: $(cat c.out)"
t2=$(date +%s%N)
log "connect to the frozen target failed after $(ms_between $t0 $t2) ms more: $(cat c.out)"
kill -CONT $T2

# ---- 2. a slow connect: 32 namespaces (-i 8: room for 64 I/O queues, 2 per device) ----
n0=$(log_count $dlog "connected to $nqb")
$DISNVME connect -t rdma -a $TGT_ADDR -s 4420 -n $nqb -i 8 -Q 32 >b.out 2>&1 &
bpid=$!
wait_log_more $dlog "connected to $nqb" "$n0" 30
kill -0 $bpid 2>/dev/null || fail "the connect to B ended before its scan could be watched: $(cat b.out)"
log "B's admin queue is up: its devices are being created"
# three requests at once, each timed; each notes whether B's connect still ran when it returned
timed() { # NAME COMMAND...: NAME.out, NAME.rc, NAME.ms, NAME.alive
	local name=$1 t0 t1 rc
	shift
	t0=$(date +%s%N)
	"$@" >$name.out 2>&1
	rc=$?
	t1=$(date +%s%N)
	kill -0 $bpid 2>/dev/null && echo yes >$name.alive || echo no >$name.alive
	echo $rc >$name.rc
	ms_between $t0 $t1 >$name.ms
}
timed disc $DISNVME disconnect -n $nqa &
p1=$!
timed list $DISNVME list -o json &
p2=$!
timed dup $DISNVME connect -t rdma -a $TGT_ADDR -s 4420 -n $nqb &
p3=$!
wait $p1 $p2 $p3
for n in disc list dup; do
	log "$n: exit $(cat $n.rc) after $(cat $n.ms) ms, B's connect still running: $(cat $n.alive)"
done
[[ $(cat disc.rc) == 0 ]] || fail "disconnect of A during B's connect: $(cat disc.out)"
[[ $(cat disc.alive) == yes ]] || fail "disconnect of A answered only after B's connect ended"
pass "A disconnected in $(cat disc.ms) ms during B's connect"
[[ $(cat list.rc) == 0 ]] || fail "list during the connect failed: $(cat list.out)"
[[ $(cat list.alive) == yes ]] || fail "list answered only after B's connect ended"
# B is not listed before its connect is done ($devA itself may be back already: B's next
# device takes the lowest free number)
python3 -c '
import json, sys
nqns = [c["subsysnqn"] for c in json.load(open("list.out"))["controllers"]]
assert sys.argv[1] not in nqns, nqns
' $nqb || fail "list during the connect: $(cat list.out)"
pass "list answered in $(cat list.ms) ms during B's connect (B not listed yet)"
[[ $(cat dup.rc) != 0 ]] || fail "a second connect to B during the first succeeded: $(cat dup.out)"
[[ $(cat dup.alive) == yes ]] || fail "the duplicate was refused only after B's connect ended"
grep -q "being connected already" dup.out || fail "duplicate connect said: $(cat dup.out)"
pass "a second connect to B during the first refused in $(cat dup.ms) ms: $(cat dup.out)"

wait $bpid || fail "connect B failed: $(cat b.out); $(tail -20 $dlog)"
[[ $(grep -c '^/dev/ublkb' b.out) == 32 ]] || fail "connect B printed: $(cat b.out)"
$DISNVME list -o json | python3 -c '
import json, sys
c = json.load(sys.stdin)["controllers"]
assert len(c) == 1 and c[0]["subsysnqn"] == sys.argv[1] and c[0]["state"] == "live", c
assert sorted(n["nsid"] for n in c[0]["namespaces"]) == list(range(1, 33)), c
' $nqb || fail "list after B's connect: $($DISNVME list -o json)"
pass "B connected with 32 devices; A is gone"
must $DISNVME disconnect -n $nqb
for i in $(seq 1 100); do pgrep -f '^disnvme daemon' >/dev/null || break; sleep 0.1; done
pgrep -f '^disnvme daemon' && fail "the daemon still runs after the last disconnect"

# ---- 3. disconnect-all during a connect ----
n0=$(log_count $dlog "connected to $nqb")
$DISNVME connect -t rdma -a $TGT_ADDR -s 4420 -n $nqb -i 8 -Q 32 >b2.out 2>&1 &
bpid=$!
wait_log_more $dlog "connected to $nqb" "$n0" 30
dpid=$(pgrep -f '^disnvme daemon' | head -1)
[[ -n $dpid ]] || fail "no daemon process"
kill -0 $bpid 2>/dev/null || fail "the connect to B ended before disconnect-all: $(cat b2.out)"
t0=$(date +%s%N)
must $DISNVME disconnect-all
t1=$(date +%s%N)
log "disconnect-all took $(ms_between $t0 $t1) ms"
[[ -z $(ls /dev/ublkb* /dev/ublkc* 2>/dev/null) ]] ||
	fail "devices left after disconnect-all returned: $(ls /dev/ublk*)"
wait $bpid && fail "the connect survived a disconnect-all: $(cat b2.out)"
grep -q "cancelled by a disconnect" b2.out || fail "the cancelled connect said: $(cat b2.out)"
wait_gone "$dpid" 10 || fail "daemon $dpid still runs after disconnect-all"
pass "disconnect-all during a connect: cancelled ($(cat b2.out)), no device left, daemon ended"

host_daemon_log_clean
for p in $T2 $T1; do
	kill -TERM $p
	wait $p || fail "disnvme-target $p exited $? on SIGTERM"
done
DTGT_PID=
pass "both disnvme-targets exited 0"
