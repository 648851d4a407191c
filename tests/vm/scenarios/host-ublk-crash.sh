#!/usr/bin/env bash
# A ublk server killed outright (SIGKILL, a crash) cannot delete its device: the driver
# removes /dev/ublkbN but /dev/ublkcN stays. dn_ublk_reap_dead() (dn-ublk-file --reap, and
# the host daemon at start) deletes exactly such leftovers and nothing else: not a live
# server's device, not a device someone else created.
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/ublk_helpers.sh"

load_modules ublk_drv
data_dir
img=$DATA/crash.img
live=$DATA/live.img
sparse_file 64M "$img" "$live"

[[ $("$DN_UBLK_FILE" --reap) == 0 ]] || fail "reap found something on a fresh system"

ublk_file_start live -q 1 -d 16 -i 3 "$live" || fail "live server"
live_pid=$UBLK_PID live_dev=$UBLK_DEV
ublk_file_start dead -q 2 -d 32 -i 5 "$img" || fail "server to kill"
dd if=/dev/urandom of="$UBLK_DEV" bs=64k count=100 oflag=direct status=none || fail "dd"
kill -KILL "$UBLK_PID"
wait "$UBLK_PID" 2>/dev/null
for i in $(seq 1 50); do [[ -e /dev/ublkb5 ]] || break; sleep 0.2; done
[[ ! -e /dev/ublkb5 ]] || fail "the driver kept /dev/ublkb5 of a killed server"
[[ -e /dev/ublkc5 ]] || fail "expected /dev/ublkc5 to be left behind"
pass "SIGKILL: /dev/ublkb5 gone, /dev/ublkc5 left behind"

[[ $("$DN_UBLK_FILE" --reap 2>reap.err) == 1 ]] || fail "reap: $(cat reap.err)"
[[ ! -e /dev/ublkc5 && ! -e /sys/class/ublk-char/ublkc5 ]] || fail "/dev/ublkc5 still there"
[[ -b $live_dev && -e /dev/ublkc3 ]] || fail "reap touched the live device"
dd if="$live_dev" of=/dev/null bs=1M iflag=direct status=none || fail "live device unusable"
[[ $("$DN_UBLK_FILE" --reap) == 0 ]] || fail "second reap deleted something"
pass "reap deleted the orphan only; the live device still serves I/O"

# the device number is free again
ublk_file_start again -q 1 -d 16 -i 5 "$img" || fail "device 5 not reusable"
ublk_file_stop || fail "stop"
UBLK_PID=$live_pid UBLK_DEV=$live_dev ublk_file_stop || fail "stop live server"
pass "device 5 reusable; clean stops"
