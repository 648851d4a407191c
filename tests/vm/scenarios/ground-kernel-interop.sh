#!/usr/bin/env bash
# The ground everything stands on: rxe over veth, ublk present, and the Linux nvmet-rdma target
# and nvme-rdma host talking over rxe with fio verifying the data. It also checks that the
# verification can fail: data corrupted behind the target's back must make fio's verify fail.
. "$DISNVME_SRC/tests/vm/lib.sh"

topo_up
rdma link show | grep -q 'rxet.*ACTIVE' || fail "rxet not ACTIVE: $(rdma link show)"
in_host rdma link show | grep -q 'rxeh.*ACTIVE' || fail "rxeh not ACTIVE"
pass "rxe over veth in both namespaces"

load_modules ublk_drv
[[ -c /dev/ublk-control ]] || fail "/dev/ublk-control missing after modprobe ublk_drv"
pass "/dev/ublk-control present"

nqn=nqn.2014-08.org.disnvme:ground
data_dir
backing=$DATA/ground.img
sparse_file 96M "$backing"
knvmet_up $nqn $backing
in_host nvme discover -t rdma -a $TGT_ADDR -s $PORT | tee discover.txt
grep -q "subnqn: *$nqn" discover.txt || fail "discovery log does not list $nqn"
pass "nvme discover lists $nqn"

khost_connect $nqn
dev=$(khost_ns_dev $nqn) || fail "no namespace block device for $nqn"
[[ $(blockdev --getsize64 "$dev") == $((96 << 20)) ]] || fail "$dev has the wrong size"
pass "kernel host connected: $dev"

fio_verify "$dev" --numjobs=1 || fail "fio verify on $dev"
pass "fio randwrite 4k..128k QD16 + crc32c verify on $dev"

# negative control: the same verify pass after the backing data changed underneath must fail
in_host fio --name=verify --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite \
	--bsrange=4k-128k --iodepth=16 --size=64M --verify=crc32c --verify_only=1 --randrepeat=1 \
	>/dev/null 2>&1 || fail "verify_only on untouched data should pass"
dd if=/dev/urandom of=$backing bs=1M count=64 conv=notrunc,fsync status=none
if fio --name=verify --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite \
	--bsrange=4k-128k --iodepth=16 --size=64M --verify=crc32c --verify_only=1 --randrepeat=1 \
	>corrupt.txt 2>&1; then
	fail "fio verify did not notice corrupted data"
fi
grep -qi 'verify\|bad' corrupt.txt || fail "fio failed for another reason: $(tail -3 corrupt.txt)"
pass "fio verify fails on corrupted data (negative control)"
