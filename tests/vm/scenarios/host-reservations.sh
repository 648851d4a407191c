#!/usr/bin/env bash
# Reservations from the disnvme host: a ublk device has no persistent-reservation operations,
# so `disnvme resv-register|resv-acquire|resv-release|resv-report /dev/ublkbN` (nvme-cli's
# options) send them for the namespace behind it. Node one is the disnvme host, node two the
# Linux host (netns hst, its own host NQN and ID), both on one disnvme-target namespace: node
# one reserves, node two is refused writes; node two fences node one, whose writes through its
# ublk device then fail as the block layer's reservation conflict (EBADE), not as a path error.
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_scenario_setup nvme-rdma
nqn=nqn.2014-08.org.disnvme:host-resv
h1=nqn.2014-08.org.disnvme:ublk-node
h2=nqn.2014-08.org.disnvme:kernel-node
id1=$(cat /proc/sys/kernel/random/uuid)
id2=$(cat /proc/sys/kernel/random/uuid)
backing=$DATA/resv.img
sparse_file 64M "$backing"
dtgt_config resv.json $nqn "$backing"
tlog=$DISNVME_OUT/target.log
: >"$tlog"
dtgt_start "$tlog" --config resv.json

dev=$($DISNVME connect -t rdma -a $TGT_ADDR -s $PORT -n $nqn -q $h1 -I "$id1" -i 1) ||
	fail "disnvme connect: $dev"
on_exit "$DISNVME disconnect-all"
in_host nvme connect -t rdma -a $TGT_ADDR -s $PORT -n $nqn --hostnqn=$h2 --hostid="$id2" ||
	fail "kernel host: nvme connect"
on_exit "in_host nvme disconnect -n $nqn"
kdev=$(khost_ns_dev $nqn) || fail "no block device for the kernel host"
log "node one (disnvme): $dev, node two (Linux): $kdev"

stamp() { printf '%-4096s' "$1 block $2" | dd of="$3" bs=4k seek="$2" oflag=direct status=none 2>"$DISNVME_OUT/dd.err"; }
holds() { [[ $(dd if="$3" bs=4k skip="$2" count=1 iflag=direct status=none | tr -d ' ') == "$1block$2" ]]; }
can_read() { dd if="$1" of=/dev/null bs=4k count=1 iflag=direct status=none; }
# report_is RTYPE NREGS HOLDER_HOSTID: disnvme's JSON report, as nvme-cli's
report_is() {
	local r
	r=$($DISNVME resv-report "$dev" --eds -o json) || fail "disnvme resv-report: $r"
	python3 - "$1" "$2" "$3" "$r" <<'PY' || fail "disnvme resv-report -o json: $r"
import json, sys
r = json.loads(sys.argv[4])
assert r["rtype"] == int(sys.argv[1]) and r["regctl"] == int(sys.argv[2]), r
held = [e["hostid"] for e in r["regctlext"] if e["rcsts"] & 1]
want = sys.argv[3].replace("-", "")
assert (held == [want]) if want else not held, (held, want)
PY
}

out=$($DISNVME resv-register "$dev" --nrkey=0xa1 --rrega=0) || fail "disnvme resv-register: $out"
[[ $out == "NVME Reservation Register success" ]] || fail "resv-register printed: $out"
nvme resv-register "$kdev" -n 1 --nrkey=0xb2 --rrega=0 >/dev/null || fail "kernel node: register"
must $DISNVME resv-acquire "$dev" -n 1 --crkey=0xa1 --rtype=1 --racqa=0
report_is 1 2 "$id1"
$DISNVME resv-report "$dev" --eds | grep -q "rtype     : 1" || fail "normal report output"
stamp one 1 "$dev" || fail "the holder (disnvme) cannot write: $(cat "$DISNVME_OUT/dd.err")"
stamp two 1 "$kdev" && fail "the Linux node wrote under the disnvme node's Write Exclusive"
holds one 1 "$kdev" || fail "the refused write changed the block"
pass "disnvme registers and takes Write Exclusive: it writes, the Linux node is refused"

# the Linux node fences the disnvme node
nvme resv-acquire "$kdev" -n 1 --crkey=0xb2 --prkey=0xa1 --rtype=1 --racqa=1 >/dev/null ||
	fail "kernel node: preempt"
report_is 1 1 "$id2"
stamp one 2 "$dev" && fail "the fenced disnvme node still writes"
grep -q "Invalid exchange" "$DISNVME_OUT/dd.err" ||
	fail "the fenced write failed otherwise than as a reservation conflict (EBADE): $(cat "$DISNVME_OUT/dd.err")"
can_read "$dev" || fail "the fenced disnvme node cannot read under Write Exclusive"
stamp two 2 "$kdev" && holds two 2 "$dev" || fail "the Linux node after preempting"
$DISNVME list -o json | python3 -c '
import json, sys
c = json.load(sys.stdin)["controllers"]
assert len(c) == 1 and c[0]["state"] == "live", c' || fail "the conflict disturbed the controller"
grep -qi "reconnect\|resetting" /run/disnvme/daemon.log && fail "a reservation conflict reset the controller"
pass "fenced by the Linux node: writes fail with EBADE, reads work, the controller stays live"

# refusals: the NVMe status, or a usage error before anything is sent
out=$($DISNVME resv-acquire "$dev" --crkey=0xa1 --rtype=1 2>&1) && fail "acquire with a dead key: $out"
grep -q "reservation conflict (NVMe status 0x4083)" <<<"$out" || fail "dead key: $out"
out=$($DISNVME resv-report "$dev" 2>&1) && fail "report without --eds: $out"
grep -q "host identifier inconsistent format" <<<"$out" || fail "report without --eds: $out"
out=$($DISNVME resv-register "$dev" -n 2 --nrkey=1 2>&1) && fail "-n 2: $out"
grep -q "namespace 1" <<<"$out" || fail "-n 2: $out"
$DISNVME resv-register /dev/ublkb9 --nrkey=1 >/dev/null 2>&1
[[ $? == 1 ]] || fail "a device that is not ours: not exit 1"
$DISNVME resv-register /dev/sda --nrkey=1 >/dev/null 2>&1
[[ $? == 2 ]] || fail "a device that is not a ublk device: not exit 2"
$DISNVME resv-acquire "$dev" --crkey=1 --rtype=1 --bogus >/dev/null 2>&1
[[ $? == 2 ]] || fail "an unknown option: not exit 2"
$DISNVME resv-acquire "$dev" --crkey=-1 --rtype=1 >/dev/null 2>&1
[[ $? == 2 ]] || fail "a negative key: not exit 2"
pass "refusals: conflict and host ID format with their NVMe status (exit 1), usage errors (exit 2)"

# back in: register again, clear from the disnvme node, both write
must $DISNVME resv-register "$dev" --nrkey=0xa3 --rrega=0
must $DISNVME resv-release "$dev" --crkey=0xa3 --rtype=1 --rrela=1
report_is 0 0 ""
stamp one 3 "$dev" && stamp two 4 "$kdev" || fail "writes after clear"
holds two 4 "$dev" && holds one 3 "$kdev" || fail "blocks after clear"
pass "disnvme clears: no registrant, no reservation, both nodes write"
host_daemon_log_clean
dtgt_stop TERM || fail "disnvme-target exited $? on SIGTERM"
