#!/usr/bin/env bash
# disnvme-target's reads from a mapped (tmpfs) namespace through the Linux kernel host: reads
# of 128 KiB go out from the page cache under a registration of their own, 4 KiB ones are
# copied (docs/target.md, "Reads sent from the page cache"). Both return the file's bytes.
# Then the file is truncated under the target: a read past the new end fails (the kernel
# will not pin pages past it, and the copy's SIGBUS is caught), what is left still reads the
# same, and the target goes on and exits cleanly.
. "$DISNVME_SRC/tests/vm/lib.sh"

nqn=nqn.2014-08.org.disnvme:mapped-reads
topo_up
data_dir
backing=$DATA/mapped.img
dd if=/dev/urandom of="$backing" bs=1M count=64 status=none || fail "filling $backing"
on_exit "rm -f '$backing'"
tlog=$DISNVME_OUT/target.log
: >"$tlog"
dtgt_start "$tlog" -t rdma -a $TGT_ADDR -s $PORT -n $nqn --ns "$backing"
khost_connect $nqn
dev=$(khost_ns_dev $nqn) || fail "no namespace block device for $nqn"

# 1. the whole namespace in 128 KiB reads, then 4 KiB reads of its first 4 MiB
dd if="$dev" of=read128k.bin bs=128k iflag=direct status=none || fail "dd bs=128k from $dev"
cmp read128k.bin "$backing" || fail "128 KiB reads differ from the file"
dd if="$dev" of=read4k.bin bs=4k count=1024 iflag=direct status=none || fail "dd bs=4k"
cmp read4k.bin <(head -c 4M "$backing") || fail "4 KiB reads differ from the file"
rm -f read128k.bin read4k.bin
pass "64 MiB read in 128 KiB reads and 4 MiB in 4 KiB reads: the file's bytes"

# 2. truncated under the target
head -c 1M "$backing" >first.bin
truncate -s 1M "$backing" || fail "truncate"
must_fail dd if="$dev" of=/dev/null bs=128k skip=16 count=1 iflag=direct status=none
must_fail dd if="$dev" of=/dev/null bs=4k skip=1024 count=1 iflag=direct status=none
grep -q "shorter than the namespace now (truncated?)" "$tlog" ||
	fail "no log line about the truncated namespace: $(tail -5 "$tlog")"
dd if="$dev" of=after.bin bs=128k count=8 iflag=direct status=none ||
	fail "reading what is left after the truncation"
cmp after.bin first.bin || fail "what is left reads differently after the truncation"
kill -0 "$DTGT_PID" || fail "disnvme-target died"
pass "truncated to 1 MiB: reads past the end fail (128 KiB and 4 KiB), the first MiB reads the same"

in_host nvme disconnect -n $nqn >disc.txt 2>&1 || fail "nvme disconnect: $(cat disc.txt)"
dtgt_stop TERM || fail "disnvme-target exited with $? on SIGTERM"
pass "disconnect and SIGTERM clean"
