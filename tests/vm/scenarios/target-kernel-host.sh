#!/usr/bin/env bash
# disnvme-target against the Linux kernel NVMe/RDMA host (issue 3, done-when 1 and 2):
# discovery lists the subsystem; nvme connect gives a block device of the configured size;
# id-ctrl/id-ns show the configured serial, model, NQN and identifiers that stay the same
# across a restart; fio random write + crc32c verify (4k..128k, QD32, 2 jobs, 256 MiB) with
# zero errors; the data reads back after the target restarted; disconnect and SIGTERM clean.
. "$DISNVME_SRC/tests/vm/lib.sh"

nqn=nqn.2014-08.org.disnvme:kernel-host
serial=DNKH0123456789
model="disnvme kernel-host test"
size_mb=320
topo_up
data_dir
backing=$DATA/kh.img
sparse_file ${size_mb}M "$backing"
cat >kh.json <<EOF
{
  "ports": [ { "trtype": "rdma", "adrfam": "ipv4", "traddr": "$TGT_ADDR", "trsvcid": "$PORT" } ],
  "subsystems": [ {
    "nqn": "$nqn", "serial": "$serial", "model": "$model", "allow_any_host": true,
    "namespaces": [ { "nsid": 1, "path": "$backing" } ]
  } ]
}
EOF
tlog=$DISNVME_OUT/target.log
: >"$tlog"
dtgt_start "$tlog" --config kh.json -v
load_modules nvme-rdma

# 1. discovery
in_host nvme discover -t rdma -a $TGT_ADDR -s $PORT >discover.txt 2>&1 ||
	{ cat discover.txt; fail "nvme discover"; }
cat discover.txt
grep -q "subnqn: *$nqn" discover.txt || fail "discovery log does not list $nqn"
grep -q "traddr: *$TGT_ADDR" discover.txt || fail "discovery log entry lacks traddr"
grep -q "trtype: *rdma" discover.txt || fail "discovery log entry lacks trtype rdma"
pass "nvme discover lists $nqn"

# 2. connect, size, identify
khost_connect $nqn
dev=$(khost_ns_dev $nqn) || fail "no namespace block device for $nqn"
[[ $(blockdev --getsize64 "$dev") == $((size_mb << 20)) ]] ||
	fail "$dev has $(blockdev --getsize64 "$dev") bytes, want $((size_mb << 20))"
pass "kernel host connected: $dev, $size_mb MiB"
ctrl=/dev/$(ls /sys/class/nvme-subsystem/*/ 2>/dev/null | grep -m1 -E '^nvme[0-9]+$')
for c in /sys/class/nvme/nvme*; do
	[[ $(cat "$c/subsysnqn") == "$nqn" ]] && ctrl=/dev/$(basename "$c")
done
nvme id-ctrl "$ctrl" >idctrl.txt || fail "nvme id-ctrl $ctrl"
grep -Eq "^sn +: $serial *$" idctrl.txt || fail "id-ctrl sn: $(grep '^sn' idctrl.txt)"
grep -Eq "^mn +: $model *$" idctrl.txt || fail "id-ctrl mn: $(grep '^mn' idctrl.txt)"
grep -Eq "^subnqn +: $nqn$" idctrl.txt || fail "id-ctrl subnqn: $(grep '^subnqn' idctrl.txt)"
nvme id-ns "$dev" >idns1.txt || fail "nvme id-ns $dev"
nvme ns-descs "$dev" >descs1.txt || fail "nvme ns-descs $dev"
nguid=$(awk '/^nguid/ {print $3}' idns1.txt)
[[ -n $nguid && $nguid != 00000000000000000000000000000000 ]] || fail "id-ns nguid is empty"
grep -q "^uuid" descs1.txt || fail "no UUID descriptor: $(cat descs1.txt)"
pass "id-ctrl: sn '$serial', mn '$model', subnqn $nqn; id-ns nguid $nguid"

# 3. fio: 2 jobs, each on its own 128 MiB half, random writes then verify
fio_args=(--filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite --bsrange=4k-128k
	--iodepth=32 --numjobs=2 --size=128M --offset_increment=128M --verify=crc32c
	--verify_fatal=1 --randrepeat=1 --group_reporting)
fio --name=kh "${fio_args[@]}" --do_verify=1 >fio-write.txt 2>&1 ||
	{ tail -30 fio-write.txt; tail -20 "$tlog"; fail "fio write+verify"; }
grep -q "err= 0" fio-write.txt || fail "fio reported errors: $(grep err= fio-write.txt)"
pass "fio randwrite 4k..128k QD32 x2 jobs 256 MiB + crc32c verify: zero errors"

# 4. disconnect clean: the target logs the controller's end
in_host nvme disconnect -n $nqn >disc.txt 2>&1 || fail "nvme disconnect: $(cat disc.txt)"
grep -q "disconnected 1 controller" disc.txt || fail "nvme disconnect: $(cat disc.txt)"
for i in $(seq 1 50); do grep -q "controller .* destroyed" "$tlog" && break; sleep 0.2; done
grep -q "controller .* destroyed" "$tlog" || fail "target did not log the controller's end"
pass "nvme disconnect clean"

# 5. restart the target; the data and the identifiers survive
dtgt_stop TERM || fail "disnvme-target exited $? on SIGTERM"
pass "disnvme-target exited 0 on SIGTERM"
dtgt_start "$tlog" --config kh.json
khost_connect $nqn
dev=$(khost_ns_dev $nqn) || fail "no namespace block device after restart"
fio --name=kh "${fio_args[@]}" --verify_only=1 >fio-verify.txt 2>&1 ||
	{ tail -30 fio-verify.txt; fail "fio verify_only after restart"; }
pass "data verified after restarting disnvme-target"
nvme id-ns "$dev" >idns2.txt || fail "nvme id-ns after restart"
nvme ns-descs "$dev" >descs2.txt || fail "nvme ns-descs after restart"
[[ $(awk '/^nguid/ {print $3}' idns2.txt) == "$nguid" ]] || fail "nguid changed on restart"
[[ $(awk '/^eui64/ {print $3}' idns2.txt) == $(awk '/^eui64/ {print $3}' idns1.txt) ]] ||
	fail "eui64 changed on restart"
diff descs1.txt descs2.txt || fail "namespace descriptors changed on restart"
pass "namespace identifiers stable across restart"

# 6. SIGTERM with a host connected: the host is disconnected, the target exits 0
dtgt_stop TERM || fail "disnvme-target exited $? on SIGTERM with a host connected"
grep -q "controller .* destroyed" "$tlog" || fail "no controller teardown logged at shutdown"
pass "SIGTERM with a connected host: clean exit 0"
