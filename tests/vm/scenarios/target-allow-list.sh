#!/usr/bin/env bash
# --host allow-list (issue 3, done-when 6): a host NQN not on the list is refused at Connect
# with "Connect Invalid Host" and a log line on the target, and discovery does not show it the
# subsystem; a listed host connects.
. "$DISNVME_SRC/tests/vm/lib.sh"

nqn=nqn.2014-08.org.disnvme:allow-list
ok=nqn.2014-08.org.disnvme:host-allowed
bad=nqn.2014-08.org.disnvme:host-stranger
topo_up
data_dir
backing=$DATA/allow.img
sparse_file 64M "$backing"
tlog=$DISNVME_OUT/target.log
: >"$tlog"
dtgt_start "$tlog" -t rdma -a $TGT_ADDR -s $PORT -n $nqn --ns "$backing" --host $ok
load_modules nvme-rdma

in_host nvme discover -t rdma -a $TGT_ADDR -s $PORT --hostnqn=$bad >disc-bad.txt 2>&1
grep -q "subnqn: *$nqn" disc-bad.txt && fail "discovery shows $nqn to a host not allowed"
in_host nvme discover -t rdma -a $TGT_ADDR -s $PORT --hostnqn=$ok >disc-ok.txt 2>&1 ||
	{ cat disc-ok.txt; fail "nvme discover as the allowed host"; }
grep -q "subnqn: *$nqn" disc-ok.txt || fail "discovery hides $nqn from the allowed host"
pass "discovery lists $nqn only to the allowed host"

dmesg -C
if in_host nvme connect -t rdma -a $TGT_ADDR -s $PORT -n $nqn --hostnqn=$bad >conn-bad.txt 2>&1; then
	in_host nvme disconnect -n $nqn
	fail "host $bad was allowed to connect"
fi
dmesg | grep -q "not allowed, hostnqn: $bad" ||
	{ dmesg | tail -20; fail "kernel host did not see Connect Invalid Host"; }
grep "$bad" "$tlog" | grep -qi "not allowed" || { cat "$tlog"; fail "target did not log the refusal of $bad"; }
pass "host $bad refused with Connect Invalid Host; target logged: $(grep "$bad" "$tlog" | grep -i -m1 "not allowed")"

in_host nvme connect -t rdma -a $TGT_ADDR -s $PORT -n $nqn --hostnqn=$ok ||
	fail "allowed host $ok could not connect"
on_exit "in_host nvme disconnect -n $nqn"
dev=$(khost_ns_dev $nqn) || fail "no block device for the allowed host"
dd if=/dev/zero of="$dev" bs=1M count=4 oflag=direct status=none || fail "write via $dev"
pass "allowed host $ok connected: $dev"
in_host nvme disconnect -n $nqn >/dev/null || fail "disconnect"
dtgt_stop TERM || fail "disnvme-target exited $? on SIGTERM"
