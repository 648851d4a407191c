#!/usr/bin/env bash
# disnvme host against the Linux nvmet-rdma target: discover (normal and JSON), connect makes
# /dev/ublkb0 of the namespace's size, fio random write + crc32c verify, ext4 survives a
# remount, list -o json describes the connection, and disconnect removes the device and ends
# the daemon that served it.
. "$DISNVME_SRC/tests/vm/lib.sh"

# rdma-core's rxe provider keeps a few bytes per context until exit: not ours to report
echo "leak:librxe-rdmav" >"$DISNVME_OUT/lsan.supp"
export LSAN_OPTIONS=suppressions=$DISNVME_OUT/lsan.supp
topo_up
load_modules ublk_drv
data_dir
nqn=nqn.2014-08.org.disnvme:host-kernel-target
backing=$DATA/kt.img
size=$((256 << 20))
truncate -s $size "$backing" && on_exit "rm -f $backing"
knvmet_up $nqn "$backing"
on_exit "cp /run/disnvme/daemon.log $DISNVME_OUT/daemon.log"

# discover: the normal output names the subsystem; the JSON parses and has its record
must $DISNVME discover -t rdma -a $TGT_ADDR -s $PORT >discover.txt
grep -q "subnqn: *$nqn" discover.txt || fail "discover does not list $nqn: $(cat discover.txt)"
must $DISNVME discover -t rdma -a $TGT_ADDR -s $PORT -o json >discover.json
python3 - "$nqn" "$TGT_ADDR" <<'PY' || fail "discover -o json: $(cat discover.json)"
import json, sys
d = json.load(open("discover.json"))
recs = [r for r in d["records"] if r["subnqn"] == sys.argv[1]]
assert len(recs) == 1, recs
r = recs[0]
assert r["trtype"] == "rdma" and r["traddr"] == sys.argv[2] and r["trsvcid"] == "4420", r
assert r["subtype"] == "nvme subsystem" and r["adrfam"] == "ipv4", r
PY
pass "discover lists $nqn (normal and JSON)"

out=$($DISNVME connect -t rdma -a $TGT_ADDR -s $PORT -n $nqn -i 2 -Q 64) ||
	fail "connect failed: $out; daemon log: $(tail -20 /run/disnvme/daemon.log)"
on_exit "$DISNVME disconnect-all"
dev=$(echo "$out" | head -1)
[[ $dev == /dev/ublkb0 && $(echo "$out" | wc -l) == 1 ]] || fail "connect printed: $out"
[[ -b $dev ]] || fail "$dev is not a block device"
[[ $(blockdev --getsize64 "$dev") == "$size" ]] ||
	fail "$dev has $(blockdev --getsize64 "$dev") bytes, expected $size"
pass "connect: $dev with $size bytes"

must $DISNVME list -o json >list.json
python3 - "$nqn" "$dev" "$size" <<'PY' || fail "list -o json: $(cat list.json)"
import json, sys
d = json.load(open("list.json"))
c = [c for c in d["controllers"] if c["subsysnqn"] == sys.argv[1]]
assert len(c) == 1, d
c = c[0]
assert c["state"] == "live" and c["transport"] == "rdma" and c["traddr"] == "10.77.0.1", c
assert c["trsvcid"] == "4420" and c["cntlid"] > 0, c
ns = c["namespaces"]
assert len(ns) == 1 and ns[0]["nsid"] == 1 and ns[0]["device"] == sys.argv[2], ns
assert ns[0]["size"] == int(sys.argv[3]) and ns[0]["lba_size"] in (512, 4096), ns
PY
$DISNVME list | tee list.txt
grep -q "$dev" list.txt || fail "list does not show $dev"
pass "list (normal and JSON) describes the connection"

fio_verify "$dev" --numjobs=2 --iodepth=32 --offset_increment=64M ||
	fail "fio verify on $dev"
grep -q '^3;' "$DISNVME_OUT"/fio-*.terse || fail "no fio results"
pass "fio randwrite 4k..128k QD32 x2 jobs + crc32c verify on $dev"

mnt=/mnt/kt
mkdir -p $mnt
must mkfs.ext4 -q -F "$dev"
must mount "$dev" $mnt
on_exit "umount $mnt"
for i in $(seq 1 16); do
	head -c $((i * 37 * 1024)) /dev/urandom >$mnt/file$i || fail "write file$i"
done
(cd $mnt && sha256sum file*) >sums.txt
must umount $mnt
echo 3 >/proc/sys/vm/drop_caches
must mount "$dev" $mnt
(cd $mnt && sha256sum -c --quiet "$DISNVME_OUT/sums.txt") || fail "files differ after remount"
must umount $mnt
pass "ext4: 16 files written, unmounted, remounted, read back identical"

pid=$(pgrep -f '^disnvme daemon' | head -1)
[[ -n $pid ]] || fail "no daemon process"
must $DISNVME disconnect -n $nqn
[[ ! -e $dev ]] || fail "$dev still exists after disconnect"
for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "daemon $pid still runs after the last disconnect"
[[ -z $(ls /dev/ublkb* /dev/ublkc* 2>/dev/null) ]] || fail "ublk devices left: $(ls /dev/ublk*)"
pass "disconnect removed $dev and the daemon ($pid) ended"
grep -E 'Sanitizer|runtime error' /run/disnvme/daemon.log && fail "the daemon hit a sanitizer error"
pass "daemon log clean"
