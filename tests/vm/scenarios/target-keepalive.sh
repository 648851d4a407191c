#!/usr/bin/env bash
# A host that vanishes without disconnecting has its controller torn down by the keep-alive
# timeout, with a log line (issue 3, done-when 5). The host here is disnvme's own (the kernel
# host's RDMA connections stay in the initial network namespace, where nothing can cut them
# off from the target): it connects with KATO 5 s, then its process is frozen (SIGSTOP), so
# its queue pairs stay up but it sends nothing, as a hung or partitioned host. The target must
# log the keep-alive expiry, drain and destroy the queues, keep serving others (a kernel host
# connects afterwards) and exit 0 at once on SIGTERM.
. "$DISNVME_SRC/tests/vm/lib.sh"

nqn=nqn.2014-08.org.disnvme:keepalive
topo_up
data_dir
load_modules ublk_drv nvme-rdma
backing=$DATA/ka.img
sparse_file 64M "$backing"
tlog=$DISNVME_OUT/target.log
: >"$tlog"
dtgt_start "$tlog" -t rdma -a $TGT_ADDR -s $PORT -n $nqn --ns "$backing" -v

"$DISNVME" connect -t rdma -a $TGT_ADDR -s $PORT -n $nqn -k 5 >connect.txt 2>&1 ||
	{ cat connect.txt; cat /run/disnvme/daemon.log 2>/dev/null; fail "disnvme connect"; }
for i in $(seq 1 40); do grep -q "controller .* created.*$nqn" "$tlog" && break; sleep 0.25; done
grep -q "controller .* created.*$nqn" "$tlog" || { cat "$tlog"; fail "no controller created"; }
grep -q "keep-alive 5000 ms" "$tlog" || fail "the controller was not created with KATO 5 s"
dpid=$(pgrep -f "disnvme daemon" | head -1)
[[ -n $dpid ]] || fail "no disnvme daemon process"
on_exit "kill -9 $dpid"
pass "userspace host connected with KATO 5 s (daemon pid $dpid)"

t0=$(date +%s)
kill -STOP "$dpid" || fail "SIGSTOP"
log "host frozen"
for i in $(seq 1 80); do
	grep -q "controller .* destroyed" "$tlog" && break
	sleep 0.5
done
grep -q "controller .* destroyed" "$tlog" || { cat "$tlog"; fail "controller not torn down in 40 s"; }
grep -i "keep.alive" "$tlog" | grep -qiv "keep-alive [0-9]* ms" ||
	{ cat "$tlog"; fail "the teardown does not say it was the keep-alive timeout"; }
pass "torn down after $(( $(date +%s) - t0 )) s: $(grep -i 'keep.alive' "$tlog" | grep -iv 'keep-alive [0-9]* ms' | head -1)"
kill -9 "$dpid"

# the target still serves: a kernel host connects, writes and reads
khost_connect $nqn
dev=$(khost_ns_dev $nqn) || fail "no block device for the kernel host"
dd if=/dev/urandom of=pat bs=1M count=4 status=none
dd if=pat of="$dev" bs=1M oflag=direct status=none || fail "write via $dev"
dd if="$dev" of=back bs=1M count=4 iflag=direct status=none || fail "read via $dev"
cmp pat back || fail "data mismatch after the keep-alive teardown"
pass "target keeps serving: a kernel host writes and reads back"
in_host nvme disconnect -n $nqn >/dev/null || fail "nvme disconnect"

t0=$(date +%s)
dtgt_stop TERM || fail "disnvme-target exited $? on SIGTERM"
(( $(date +%s) - t0 < 10 )) || fail "shutdown took $(( $(date +%s) - t0 )) s: queues stuck"
pass "clean exit: every queue of the vanished host was drained"
