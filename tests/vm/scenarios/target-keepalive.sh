#!/usr/bin/env bash
# A host that vanishes without disconnecting (its network cut) has its controller torn down by
# the keep-alive timeout, with a log line (issue 3, done-when 5). The target stays healthy: its
# queues drain (SIGTERM exits 0 at once) and the host reconnects once the network is back.
. "$DISNVME_SRC/tests/vm/lib.sh"

nqn=nqn.2014-08.org.disnvme:keepalive
topo_up
data_dir
backing=$DATA/ka.img
truncate -s 64M "$backing" && on_exit "rm -f $backing"
tlog=$DISNVME_OUT/target.log
: >"$tlog"
dtgt_start "$tlog" -t rdma -a $TGT_ADDR -s $PORT -n $nqn --ns "$backing" -v
load_modules nvme-rdma

# keep-alive timeout 5 s; reconnect quickly once the network is back
khost_connect $nqn $TGT_ADDR -k 5 --reconnect-delay=2 --ctrl-loss-tmo=120
dev=$(khost_ns_dev $nqn) || fail "no block device"
dd if=/dev/zero of="$dev" bs=1M count=2 oflag=direct status=none || fail "write via $dev"
grep -q "controller .* created" "$tlog" || fail "no controller creation logged"
pass "connected with KATO 5 s: $dev"

t0=$(date +%s)
ip -n hst link set vh down || fail "cutting the host's link"
log "host link cut"
for i in $(seq 1 60); do
	grep -qi "keep.alive" "$tlog" && grep -q "controller .* destroyed" "$tlog" && break
	sleep 0.5
done
grep -qi "keep.alive" "$tlog" || { cat "$tlog"; fail "no keep-alive timeout logged in 30 s"; }
grep -q "controller .* destroyed" "$tlog" || { cat "$tlog"; fail "controller not torn down"; }
pass "keep-alive timeout after $(( $(date +%s) - t0 )) s: $(grep -i 'keep.alive' "$tlog" | head -1)"

# the vanished host's queues must drain although the host never answers
created=$(grep -c "controller .* created" "$tlog")
ip -n hst link set vh up || fail "restoring the host's link"
for i in $(seq 1 60); do
	[[ $(grep -c "controller .* created" "$tlog") -gt $created ]] && break
	sleep 0.5
done
[[ $(grep -c "controller .* created" "$tlog") -gt $created ]] ||
	{ tail -20 "$tlog"; fail "the host did not reconnect after the link came back"; }
dev=$(khost_ns_dev $nqn) || fail "no block device after reconnecting"
dd if="$dev" of=/dev/null bs=1M count=2 iflag=direct status=none || fail "read after reconnect"
pass "host reconnected after the link came back"

in_host nvme disconnect -n $nqn >/dev/null
t0=$(date +%s)
dtgt_stop TERM || fail "disnvme-target exited $? on SIGTERM"
(( $(date +%s) - t0 < 10 )) || fail "shutdown took $(( $(date +%s) - t0 )) s: queues stuck"
pass "clean exit after the keep-alive teardown"
