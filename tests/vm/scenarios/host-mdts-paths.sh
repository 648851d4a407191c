#!/usr/bin/env bash
# One namespace through two paths whose controllers allow different transfer sizes: the Linux
# nvmet-rdma target (MDTS 1 MiB, taken as 256 KiB, the device's largest request) and
# disnvme-target (MDTS 128 KiB) export one loop device (512-byte blocks for both) under one
# subsystem NQN and NGUID. The requests over 128 KiB that round robin gives the
# disnvme-target path go in pieces: fio write + verify with requests of up to 256 KiB ends
# without an error, and the target refuses nothing. (Both targets allow queues of 128 at
# most, so a path with a smaller queue than the device is left to unit.test_ns_dev_io.)
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_scenario_setup loop
nqn=nqn.2014-08.org.disnvme:mdts-paths
nguid=6d647473-7061-7468-7300-000000000001
uuid=6d647473-7061-7468-7300-000000000002
dlog=/run/disnvme/daemon.log
sparse_file 256M $DATA/m.img
loop=$(losetup -f --show $DATA/m.img) || fail "losetup"
on_exit "losetup -d $loop"

# path 1: the kernel target, with the namespace's identifiers set before it is enabled
knvmet_up $nqn $loop
ns=$KNVMET/subsystems/$nqn/namespaces/1
echo 0 >$ns/enable
echo $nguid >$ns/device_nguid
echo $uuid >$ns/device_uuid
echo 1 >$ns/enable || fail "nvmet namespace enable with nguid $nguid"

# path 2: disnvme-target on port 4421, same device, same identifiers
cat >t.json <<JSON
{
  "ports": [ { "trtype": "rdma", "adrfam": "ipv4", "traddr": "$TGT_ADDR", "trsvcid": "4421" } ],
  "subsystems": [ { "nqn": "$nqn", "allow_any_host": true, "namespaces": [
    { "nsid": 1, "path": "$loop", "nguid": "$nguid", "uuid": "$uuid" } ] } ]
}
JSON
: >"$DISNVME_OUT/t.log"
dtgt_start "$DISNVME_OUT/t.log" --config t.json

dev=$($DISNVME connect -t rdma -a $TGT_ADDR -s 4420 -n $nqn -i 2) || fail "connect 1: $dev"
on_exit "$DISNVME disconnect-all"
b=${dev#/dev/}
max=$(($(cat /sys/block/$b/queue/max_hw_sectors_kb) * 1024))
((max == 256 << 10)) || fail "$dev takes requests of $max bytes, not 256 KiB"
dev2=$($DISNVME connect -t rdma -a $TGT_ADDR -s 4421 -n $nqn -i 2) || fail "connect 2: $dev2"
[[ $dev2 == "$dev" ]] || fail "the second path made $dev2, not a path of $dev"
grep -q "path $TGT_ADDR:4421) moves at most 131072 bytes per command, $dev takes 262144" $dlog ||
	fail "no notice of the smaller transfers: $(tail -20 $dlog)"
pass "$dev (requests up to 256 KiB) through nvmet-rdma and disnvme-target (MDTS 128 KiB)"

fio --name=mdts --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite \
	--bsrange=128k-256k --iodepth=32 --numjobs=2 --size=96M \
	--offset_increment=96M --verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=1 \
	--group_reporting >fio.txt 2>&1 ||
	{ tail -30 fio.txt; tail -40 $dlog; fail "fio failed"; }
grep -q "err= 0" fio.txt || fail "fio reported errors: $(grep err= fio.txt)"
# a command over its MDTS would have been refused, with a line in the target's log
grep "(status 0x" "$DISNVME_OUT/t.log" && fail "disnvme-target refused commands"
n=$(awk '{print $1 + $5}' /sys/block/$b/stat)
pass "fio write + verify, 128-256 KiB requests over both paths: zero errors, none refused ($n requests)"

must $DISNVME disconnect -n $nqn
host_daemon_log_clean
dtgt_stop || fail "disnvme-target exit code $?"
pass "disconnected; disnvme-target exited 0"
