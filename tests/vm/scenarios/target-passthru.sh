#!/usr/bin/env bash
# vm-nvme: 256 DNPT00000001
# NVMe passthrough (issue 3, done-when 4): qemu's emulated NVMe controller in the guest is
# exported through its generic character device /dev/ng0n1 (io_uring uring_cmd); the Linux
# host writes and reads it over RDMA, fio verifies, and the data is on the emulated drive
# afterwards (read back through the local PCIe driver once the target is gone).
. "$DISNVME_SRC/tests/vm/lib.sh"

nqn=nqn.2014-08.org.disnvme:passthru
load_modules nvme
for i in $(seq 1 40); do [[ -c /dev/ng0n1 ]] && break; sleep 0.25; done
[[ -c /dev/ng0n1 && -b /dev/nvme0n1 ]] || fail "no emulated NVMe drive (/dev/ng0n1)"
local_dev=/dev/nvme0n1
size=$(blockdev --getsize64 $local_dev)
[[ $size == $((256 << 20)) ]] || fail "emulated drive has $size bytes"
topo_up
tlog=$DISNVME_OUT/target.log
: >"$tlog"
dtgt_start "$tlog" -t rdma -a $TGT_ADDR -s $PORT -n $nqn --ns /dev/ng0n1 -v
grep -qi "passthru\|passthrough" "$tlog" || { cat "$tlog"; fail "/dev/ng0n1 not opened as passthrough"; }

khost_connect $nqn
dev=$(khost_ns_dev $nqn) || fail "no block device for $nqn"
[[ $(blockdev --getsize64 "$dev") == "$size" ]] || fail "$dev size differs from the drive's"
pass "kernel host sees the emulated drive through disnvme-target: $dev, $size bytes"

head -c $((16 << 20)) /dev/urandom >pattern
dd if=pattern of="$dev" bs=128k seek=64 oflag=direct status=none || fail "write via $dev"
dd if="$dev" of=back bs=128k skip=64 count=128 iflag=direct status=none || fail "read via $dev"
cmp pattern back || fail "data read back through the target differs"
pass "16 MiB written and read back through the target"

fio --name=pt --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite --bsrange=4k-128k \
	--iodepth=32 --numjobs=2 --size=48M --offset=64M --offset_increment=48M --verify=crc32c \
	--verify_fatal=1 --do_verify=1 --randrepeat=1 --group_reporting >fio.txt 2>&1 ||
	{ tail -20 fio.txt; fail "fio verify via $dev"; }
pass "fio randwrite 4k..128k QD32 x2 + crc32c verify through the passthrough namespace"

in_host nvme disconnect -n $nqn >/dev/null || fail "nvme disconnect"
dtgt_stop TERM || fail "disnvme-target exited $? on SIGTERM"
dd if=$local_dev of=local bs=128k skip=64 count=128 iflag=direct status=none ||
	fail "read the emulated drive locally"
cmp pattern local || fail "the emulated drive does not hold the data the host wrote"
pass "the data is on the emulated drive (read through the local PCIe driver)"
