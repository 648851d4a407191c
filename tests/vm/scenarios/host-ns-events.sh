#!/usr/bin/env bash
# Asynchronous events: the Linux nvmet target gains a namespace, loses one and grows one while
# the disnvme host is connected; each Namespace Attribute Changed notice makes the host rescan:
# a new device appears, the removed namespace's device goes, the resized one takes its new size
# (in place from Linux 6.16, as a new device before). Data on the untouched namespace stays readable throughout.
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_scenario_setup
nqn=nqn.2014-08.org.disnvme:host-ns-events
sparse_file 64M $DATA/ns1.img $DATA/ns2.img
knvmet_up $nqn $DATA/ns1.img
ns=$KNVMET/subsystems/$nqn/namespaces

# nsid -> device, from list -o json ("" when absent)
ns_dev() {
	$DISNVME list -o json | python3 -c '
import json, sys
for c in json.load(sys.stdin)["controllers"]:
    for n in c["namespaces"]:
        if n["nsid"] == int(sys.argv[1]): print(n["device"], n["size"])' "$1"
}
wait_ns() { # NSID WANT_PRESENT(1/0) -> prints "device size"
	local i out
	for i in $(seq 1 60); do
		out=$(ns_dev "$1")
		if [[ $2 == 1 && -n $out ]] || [[ $2 == 0 && -z $out ]]; then
			echo "$out"; return 0
		fi
		sleep 0.5
	done
	return 1
}

dev1=$($DISNVME connect -t rdma -a $TGT_ADDR -n $nqn -i 1) || fail "connect: $dev1"
on_exit "$DISNVME disconnect-all"
must dd if=/dev/urandom of=pattern.bin bs=1M count=4 status=none
must dd if=pattern.bin of="$dev1" bs=1M oflag=direct status=none

mkdir $ns/2
echo -n $DATA/ns2.img >$ns/2/device_path
echo 1 >$ns/2/enable || fail "enable namespace 2"
read -r dev2 size2 <<<"$(wait_ns 2 1)" || fail "no device for namespace 2: $(tail /run/disnvme/daemon.log)"
[[ -b $dev2 && $size2 == $((64 << 20)) ]] || fail "namespace 2: $dev2 $size2"
pass "namespace 2 added on the target: $dev2 appeared ($size2 bytes)"

echo 0 >$ns/2/enable
wait_ns 2 0 >/dev/null || fail "namespace 2's device stayed after it was disabled"
sleep 0.5
[[ ! -e $dev2 ]] || fail "$dev2 still exists"
pass "namespace 2 disabled: $dev2 removed"

truncate -s 96M $DATA/ns1.img
echo 1 >$ns/1/revalidate_size || fail "revalidate_size"
for i in $(seq 1 60); do
	read -r d s <<<"$(ns_dev 1)"
	[[ $s == $((96 << 20)) ]] && break
	sleep 0.5
done
[[ $s == $((96 << 20)) ]] || fail "namespace 1 did not grow: $d $s"
[[ $(blockdev --getsize64 "$d") == $((96 << 20)) ]] || fail "$d has the old size"
# ublk resizes a live device from Linux 6.16 (UPDATE_SIZE); before, the daemon is told no and
# makes the device again
kv=$(uname -r); kmaj=${kv%%.*}; kmin=${kv#*.}; kmin=${kmin%%.*}
log=/run/disnvme/daemon.log
if ((kmaj > 6 || (kmaj == 6 && kmin >= 16))); then
	grep -Eq "namespace 1 resized from [0-9]+ to [0-9]+ blocks: ${dev1} resized in place" $log ||
		fail "Linux $kv: no in-place resize of $dev1: $(grep 'namespace 1' $log | tail -3)"
	[[ $d == "$dev1" ]] || fail "Linux $kv: $dev1 resized in place, yet the device is now $d"
	pass "namespace 1's device $dev1 resized in place"
else
	grep -q "${dev1} cannot be resized in place: Operation not supported (ublk resizes from Linux 6.16)" $log ||
		fail "Linux $kv: the refused live resize was not logged: $(grep 'namespace 1' $log | tail -3)"
	grep -Eq "namespace 1 changed \(size [0-9]+ -> [0-9]+ blocks\): recreating its device" $log ||
		fail "Linux $kv: the device was not made again"
	pass "Linux $kv has no live ublk resize: the daemon was refused and made the device again"
fi
# (the guest has no /dev/fd: no process substitution)
dd if="$d" of=readback.bin bs=1M count=4 iflag=direct status=none || fail "read $d"
cmp readback.bin pattern.bin || fail "namespace 1 data differs after the resize"
pass "namespace 1 grew to 96 MiB: $d has the new size and the old data"
host_daemon_log_clean
