#!/usr/bin/env bash
# A target that comes back with smaller limits than the host's device was made with: the disnvme
# host is connected to disnvme-target (128 KiB per command, queues of 128: the device takes
# 128 KiB requests, 128 in flight) while fio writes and verifies; the target is restarted with
# max_io_size 32768 and max_queue_depth 16. The host reconnects with the new association's
# limits: requests over 32 KiB go in pieces, those beyond 16 in flight wait for a slot, and
# every fio pass ends with zero errors; the target refuses no command. Then back to the full
# limits, and the pieces stop.
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_scenario_setup
nqn=nqn.2014-08.org.disnvme:limits
dlog=/run/disnvme/daemon.log
sparse_file 256M $DATA/l.img

config() { # MAX_IO_SIZE MAX_QUEUE_DEPTH (none: the largest)
	local lim=
	[[ -n ${1:-} ]] && lim="\"max_io_size\": $1, \"max_queue_depth\": $2,"
	cat <<JSON
{
  $lim
  "ports": [ { "trtype": "rdma", "adrfam": "ipv4", "traddr": "$TGT_ADDR", "trsvcid": "4420" } ],
  "subsystems": [ { "nqn": "$nqn", "allow_any_host": true,
    "namespaces": [ { "nsid": 1, "path": "$DATA/l.img" } ] } ]
}
JSON
}
config >full.json
config 32768 16 >small.json
: >"$DISNVME_OUT/t.log"
dtgt_start "$DISNVME_OUT/t.log" --config full.json

dev=$($DISNVME connect -t rdma -a $TGT_ADDR -s 4420 -n $nqn -i 2 -c 1 -l 60) ||
	fail "connect: $dev"
on_exit "$DISNVME disconnect-all"
b=${dev#/dev/}
[[ $(cat /sys/block/$b/queue/max_hw_sectors_kb) == 128 ]] ||
	fail "$dev takes $(cat /sys/block/$b/queue/max_hw_sectors_kb) KiB requests, not 128"
[[ $(cat /sys/block/$b/mq/0/nr_tags) == 128 ]] ||
	fail "$dev has $(cat /sys/block/$b/mq/0/nr_tags) tags per queue, not 128"
pass "$dev: 128 KiB requests, 128 in flight per queue"

# restart_with CONFIG: the target goes and comes back with CONFIG; the host reconnects
restart_with() {
	local n0
	n0=$(log_count $dlog "$nqn at $TGT_ADDR:4420: reconnected")
	dtgt_stop || fail "disnvme-target exit code $?"
	dtgt_start "$DISNVME_OUT/t.log" --config "$1"
	wait_log_more $dlog "$nqn at $TGT_ADDR:4420: reconnected" "$n0" 60 ||
		fail "no reconnect to the target with $1: $(tail -20 $dlog)"
}

fio_loop_start $dev
sleep 4
fio_loop_alive
restart_with small.json
grep -q "limits: 32768 bytes per command (MDTS 3), I/O queues of 16 entries" \
	"$DISNVME_OUT/t.log" || fail "the target did not log its limits"
for i in $(seq 1 50); do
	(($(grep -c "path $TGT_ADDR:4420) has 16 slots for the 128 requests" $dlog) >= 2)) && break
	sleep 0.2
done
grep -q "path $TGT_ADDR:4420) moves at most 32768 bytes per command, $dev takes 131072" $dlog ||
	fail "no notice of the smaller transfers: $(tail -20 $dlog)"
grep -q "path $TGT_ADDR:4420) has 16 slots for the 128 requests $dev may" $dlog ||
	fail "no notice of the smaller queues: $(tail -20 $dlog)"
log "reconnected to a target with 32 KiB commands and queues of 16"
n0=$(awk '{print $1 + $5}' /sys/block/$b/stat)
sleep 12
fio_loop_alive
n1=$(awk '{print $1 + $5}' /sys/block/$b/stat)
((n1 > n0)) || fail "no I/O completed under the smaller limits"
pass "I/O goes on under the smaller limits ($((n1 - n0)) requests in 12 s)"

restart_with full.json
sleep 6
fio_loop_stop
# no command failed: none refused for the limits (over MDTS, a queue too deep), and writes
# whose RDMA READ a stopping target cut short were aborted, which is not logged
grep "(status 0x" "$DISNVME_OUT/t.log" && fail "disnvme-target refused commands"
pass "$FIO_LOOP_PASSES fio write + verify passes across both restarts: zero errors, none refused"

must $DISNVME disconnect -n $nqn
host_daemon_log_clean
dtgt_stop || fail "disnvme-target exit code $?"
pass "disconnected; disnvme-target exited 0"
