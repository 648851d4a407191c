#!/usr/bin/env bash
# The ublk library end to end: dn-ublk-file serves a tmpfs file as /dev/ublkbN (2 queues,
# depth 64). Checks geometry and queue limits, fio crc32c verify, that data, discards and
# write-zeroes reach the file, ext4 across a restart of the server, a read-only 4k-sector
# device, and that stopping removes the device and leaves no process.
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/ublk_helpers.sh"

load_modules ublk_drv
data_dir
img=$DATA/ublk.img
sparse_file 256M "$img"

ublk_file_start srv -q 2 -d 64 "$img" || fail "dn-ublk-file did not start"
dev=$UBLK_DEV
b=${dev#/dev/}
[[ $(blockdev --getsize64 "$dev") == $((256 << 20)) ]] || fail "$dev size $(blockdev --getsize64 "$dev")"
[[ $(blockdev --getss "$dev") == 512 ]] || fail "$dev logical block size"
[[ $(blockdev --getro "$dev") == 0 ]] || fail "$dev is read-only"
[[ $(ls /sys/block/$b/mq | wc -l) == 2 ]] || fail "$dev has $(ls /sys/block/$b/mq | wc -l) hw queues"
[[ $(cat /sys/block/$b/queue/nr_requests) -le 64 ]] || fail "queue depth"
[[ $(cat /sys/block/$b/queue/write_cache) == "write back" ]] || fail "no volatile write cache"
[[ $(cat /sys/block/$b/queue/fua) == 1 ]] || fail "no FUA"
[[ $(cat /sys/block/$b/queue/max_hw_sectors_kb) == 512 ]] || fail "max_hw_sectors_kb"
[[ $(cat /sys/block/$b/queue/discard_max_bytes) -gt 0 ]] || fail "no discard"
[[ $(cat /sys/block/$b/queue/write_zeroes_max_bytes) -gt 0 ]] || fail "no write zeroes"
pass "$dev: 256 MiB, 512-byte blocks, 2 queues, write-back cache + FUA, discard, write zeroes"

fio_verify "$dev" --iodepth=32 --numjobs=2 --size=64M --offset_increment=64M ||
	fail "fio verify on $dev"
pass "fio randwrite 4k..128k QD32 x2 jobs + crc32c verify: no errors"

# what the device shows is what the file holds (read the file directly, not through ublk)
cmp -n $((128 << 20)) "$dev" "$img" || fail "device and file differ"
pass "device content equals the backing file"

# discard punches holes; write zeroes zeroes and keeps the space allocated
dd if=/dev/urandom of="$dev" bs=1M seek=128 count=16 oflag=direct status=none || fail "dd"
blocks0=$(stat -c %b "$img")
must blkdiscard -o $((128 << 20)) -l $((8 << 20)) "$dev"
blocks1=$(stat -c %b "$img")
(( blocks0 - blocks1 >= (8 << 20) / 512 )) || fail "discard freed $((blocks0 - blocks1)) blocks"
range_is_zero "$img" 128 8 || fail "discarded range of the file is not zero"
must blkdiscard -z -o $((136 << 20)) -l $((8 << 20)) "$dev"
blocks2=$(stat -c %b "$img")
range_is_zero "$img" 136 8 || fail "write-zeroed range of the file is not zero"
(( blocks2 >= blocks1 )) || fail "write zeroes (NOUNMAP) freed space: $blocks1 -> $blocks2"
range_is_zero "$dev" 128 16 || fail "device does not read zeroes after discard/write zeroes"
pass "blkdiscard punched $((blocks0 - blocks1)) blocks; blkdiscard -z zeroed the file range"

# ext4 across an unmount and a restart of the server: the data lives in the file
must mkfs.ext4 -F -q "$dev"
mnt=/mnt/ublk
mkdir -p $mnt
must mount "$dev" $mnt
for i in $(seq 1 12); do
	head -c $((i * 37 * 1024 + i)) /dev/urandom >$mnt/f$i || fail "write f$i"
done
mkdir $mnt/d && cp $mnt/f3 $mnt/d/copy
(cd $mnt && sha256sum f* d/copy) >sums.txt
must umount $mnt
must mount "$dev" $mnt
(cd $mnt && sha256sum -c --quiet "$DISNVME_OUT/sums.txt") || fail "checksums after remount"
must umount $mnt
pass "ext4: files written, unmounted, remounted, read back identical"

ublk_file_stop || fail "stopping dn-ublk-file"
pgrep -x dn-ublk-file && fail "a dn-ublk-file process is left"
pass "SIGTERM removed $dev and /dev/ublkc${b#ublkb}; no process left"

# this time every read and write goes through the queue's io_uring (tmpfs data is otherwise
# copied inline by the backend), and more queues are asked for than the guest has CPUs
ublk_file_start srv2 -q 4 -d 64 --uring-only "$img" || fail "dn-ublk-file restart"
nq=$(ls /sys/block/${UBLK_DEV#/dev/}/mq | wc -l)
[[ $nq == "$(nproc)" ]] || fail "asked for 4 queues on $(nproc) CPUs, got $nq"
grep -q "granted $nq of 4 queues" srv2.err || fail "no notice of the queue cap: $(cat srv2.err)"
must mount "$UBLK_DEV" $mnt
(cd $mnt && sha256sum -c --quiet "$DISNVME_OUT/sums.txt") || fail "checksums after restart"
must umount $mnt
pass "ext4 files identical after the server restarted"
fio_verify "$UBLK_DEV" --iodepth=32 --numjobs=2 --size=64M --offset_increment=64M ||
	fail "fio verify with --uring-only"
ublk_file_stop || fail "stopping dn-ublk-file (2)"
pass "fio verify again with all data through io_uring: no errors"

# read-only, 4096-byte logical blocks, explicit device number
ro=$DATA/ro.img
head -c 32M /dev/urandom >"$ro" && on_exit "rm -f $ro"
ublk_file_start ro -r -b 4096 -q 1 -d 16 -i 7 "$ro" || fail "read-only dn-ublk-file"
[[ $UBLK_DEV == /dev/ublkb7 ]] || fail "asked for device 7, got $UBLK_DEV"
[[ $(blockdev --getro "$UBLK_DEV") == 1 ]] || fail "$UBLK_DEV not read-only"
[[ $(blockdev --getss "$UBLK_DEV") == 4096 ]] || fail "$UBLK_DEV logical block size"
[[ $(blockdev --getsize64 "$UBLK_DEV") == $((32 << 20)) ]] || fail "$UBLK_DEV size"
cmp "$UBLK_DEV" "$ro" || fail "read-only data differs"
must_fail dd if=/dev/zero of="$UBLK_DEV" bs=4k count=1 oflag=direct status=none
# a second server asking for the same device number fails cleanly and leaves nothing behind
ls /dev/ublkc* >before.txt
must_fail timeout 20 "$DN_UBLK_FILE" -i 7 "$img" >dup.out 2>dup.err
grep -q "File exists" dup.err || fail "duplicate device id: $(cat dup.err)"
ls /dev/ublkc* | cmp -s - before.txt || fail "a failed start left a device: $(ls /dev/ublkc*)"
ublk_file_stop || fail "stopping read-only dn-ublk-file"
pass "read-only 4k-sector device /dev/ublkb7 reads the file and refuses writes; a duplicate id is refused cleanly"

# --null: no backing file; every request completes at once, writes and reads alike
ublk_file_start null -q 2 -d 32 --null 64 || fail "dn-ublk-file --null"
[[ $(blockdev --getsize64 "$UBLK_DEV") == $((64 << 20)) ]] || fail "$UBLK_DEV (null) size"
must dd if=/dev/urandom of="$UBLK_DEV" bs=64k count=16 oflag=direct status=none
must dd if="$UBLK_DEV" of=/dev/null bs=64k count=1024 iflag=direct status=none
must_fail "$DN_UBLK_FILE" --null 0
ublk_file_stop || fail "stopping dn-ublk-file --null"
pass "a ublk null device of 64 MiB takes writes and reads and stops cleanly; --null 0 is refused"
