#!/usr/bin/env bash
# Two Linux kernel hosts (netns hst and hst2, different host NQNs) connected to the same
# disnvme-target namespace at once, each with its own controller (issue 3, done-when 3):
# what one writes the other reads back exactly, in both directions.
. "$DISNVME_SRC/tests/vm/lib.sh"

nqn=nqn.2014-08.org.disnvme:two-hosts
h1=nqn.2014-08.org.disnvme:host-one
h2=nqn.2014-08.org.disnvme:host-two
two_khosts_up $nqn $h1 $h2 "$DATA/two.img" 128M -v
tlog=$TLOG d1=$KDEV1 d2=$KDEV2
c1=$(grep -c "controller .* created.*$h1\|$h1.*controller .* created" "$tlog")
c2=$(grep -c "controller .* created.*$h2\|$h2.*controller .* created" "$tlog")
[[ $c1 -ge 1 && $c2 -ge 1 ]] || { cat "$tlog"; fail "target did not log a controller per host"; }
pass "two hosts connected: $h1 -> $d1, $h2 -> $d2, one controller each"

# host one writes, host two reads (O_DIRECT: no page cache on either side)
head -c $((16 << 20)) /dev/urandom >pattern1
dd if=pattern1 of="$d1" bs=1M oflag=direct status=none || fail "write through $d1"
dd if="$d2" of=read2 bs=1M count=16 iflag=direct status=none || fail "read through $d2"
cmp pattern1 read2 || fail "host two read different data than host one wrote"
pass "16 MiB written by host one read back exactly by host two"

head -c $((8 << 20)) /dev/urandom >pattern2
dd if=pattern2 of="$d2" bs=64k seek=512 oflag=direct status=none || fail "write through $d2"
dd if="$d1" of=read1 bs=64k skip=512 count=128 iflag=direct status=none || fail "read $d1"
cmp pattern2 read1 || fail "host one read different data than host two wrote"
pass "8 MiB written by host two at 32 MiB read back exactly by host one"

# concurrent: fio writes with crc32c headers on host one, verifies on host two
fio --name=w --filename="$d1" --ioengine=libaio --direct=1 --rw=randwrite --bsrange=4k-64k \
	--iodepth=16 --size=48M --offset=64M --verify=crc32c --do_verify=0 --randrepeat=1 \
	>fio-w.txt 2>&1 || { tail -20 fio-w.txt; fail "fio write on host one"; }
fio --name=w --filename="$d2" --ioengine=libaio --direct=1 --rw=randwrite --bsrange=4k-64k \
	--iodepth=16 --size=48M --offset=64M --verify=crc32c --verify_only=1 --randrepeat=1 \
	>fio-v.txt 2>&1 || { tail -20 fio-v.txt; fail "fio verify on host two"; }
pass "fio crc32c: written through host one, verified through host two"

# by controller: disconnecting by NQN would end both hosts' controllers (one kernel)
nvme disconnect -d "${KCTRL2#/dev/}" >/dev/null || fail "host two: disconnect $KCTRL2"
dd if="$d1" of=/dev/null bs=1M count=4 iflag=direct status=none ||
	fail "host one lost its device when host two disconnected"
pass "host two left, host one still works"
in_host nvme disconnect -n $nqn >/dev/null || fail "host one: disconnect"
dtgt_stop TERM || fail "disnvme-target exited $? on SIGTERM"
[[ $(grep -c "controller .* destroyed" "$tlog") -ge 2 ]] || fail "controllers' ends not logged"
pass "both controllers torn down and logged; clean exit"
