#!/usr/bin/env bash
# The main job inside a kernel with rdma_rxe and ublk (the test VM, or natively as root).
. "$DISNVME_SRC/tests/vm/lib.sh"

nqn=nqn.2014-08.org.disnvme:main-job
topo_up
load_modules ublk_drv
data_dir 600M
truncate -s 256M $DATA/disk.img

log "starting: disnvme-target serve -t rdma -a $TGT_ADDR -s $PORT -n $nqn --ns $DATA/disk.img"
dtgt_start "$DISNVME_OUT/target.log" -t rdma -a $TGT_ADDR -s $PORT -n $nqn --ns $DATA/disk.img

log "connecting: disnvme connect -t rdma -a $TGT_ADDR -s $PORT -n $nqn"
dev=$(disnvme connect -t rdma -a $TGT_ADDR -s $PORT -n $nqn) || fail "disnvme connect"
on_exit "disnvme disconnect -n $nqn"
log "block device: $dev"
lsblk "$dev"
disnvme list

log "writing 64 MiB of random data through $dev"
head -c 64M /dev/urandom >$DATA/payload
must dd if=$DATA/payload of="$dev" bs=1M oflag=direct status=none
log "reading it back"
must dd if="$dev" of=$DATA/readback bs=1M count=64 iflag=direct status=none
a=$(sha256sum <$DATA/payload | cut -c1-64)
b=$(sha256sum <$DATA/readback | cut -c1-64)
log "written  sha256 $a"
log "read back sha256 $b"
[[ $a == "$b" ]] || fail "data read back differs from data written"
c=$(head -c 64M $DATA/disk.img | sha256sum | cut -c1-64)
log "target's backing file sha256 $c"
[[ $a == "$c" ]] || fail "the target's backing file does not hold the data"
pass "main job: target -> soft-RoCE -> $dev; 64 MiB written and read back identical"

log "disconnecting and stopping the target"
must disnvme disconnect -n $nqn
[[ ! -e $dev ]] || fail "$dev still exists after disconnect"
dtgt_stop TERM || fail "disnvme-target did not exit 0 on SIGTERM"
log "target log:"
cat "$DISNVME_OUT/target.log"
