#!/usr/bin/env bash
# Multipath: one namespace of the Linux nvmet target reached through two ports (4420, 4421)
# is one device with two paths. fio write + verify runs while the first path goes away and
# comes back, then while the second path goes away for good (its ctrl_loss_tmo ends it):
# zero errors, the device stays, the dead path's controller leaves the list. Then a second
# connect to the same address: refused, and with --duplicate-connect a third path.
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_scenario_setup
nqn=nqn.2014-08.org.disnvme:host-multipath
sparse_file 256M $DATA/mp.img
knvmet_up $nqn $DATA/mp.img
mkdir $KNVMET/ports/2
echo rdma >$KNVMET/ports/2/addr_trtype
echo ipv4 >$KNVMET/ports/2/addr_adrfam
echo $TGT_ADDR >$KNVMET/ports/2/addr_traddr
echo 4421 >$KNVMET/ports/2/addr_trsvcid
knvmet_link $nqn 2

dev=$($DISNVME connect -t rdma -a $TGT_ADDR -s 4420 -n $nqn -i 2 -c 1 -l 60) || fail "connect 1: $dev"
on_exit "$DISNVME disconnect-all"
dev2=$($DISNVME connect -t rdma -a $TGT_ADDR -s 4421 -n $nqn -i 2 -c 1 -l 4) || fail "connect 2: $dev2"
[[ $dev == /dev/ublkb0 && $dev2 == "$dev" ]] || fail "two paths gave $dev and $dev2"
[[ $(ls /dev/ublkb* | wc -l) == 1 ]] || fail "more than one device: $(ls /dev/ublkb*)"
$DISNVME list -o json >list.json
python3 - <<'PY' || fail "list: $(cat list.json)"
import json
cs = json.load(open("list.json"))["controllers"]
assert sorted(c["trsvcid"] for c in cs) == ["4420", "4421"], cs
for c in cs:
    assert c["namespaces"][0]["device"] == "/dev/ublkb0" and c["namespaces"][0]["paths"] == 2, c
PY
pass "one namespace through two ports: one device $dev with 2 paths"

fio --name=mp --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite --bsrange=4k-128k \
	--iodepth=32 --numjobs=2 --size=96M --offset_increment=96M --verify=crc32c \
	--verify_fatal=1 --do_verify=1 --randrepeat=1 --group_reporting >fio.txt 2>&1 &
fio_pid=$!
sleep 5
knvmet_unlink $nqn 1
log "path 1 (4420) gone"
sleep 4
knvmet_link $nqn 1
log "path 1 (4420) back"
sleep 4
knvmet_unlink $nqn 2
log "path 2 (4421) gone for good"
wait $fio_pid || { tail -30 fio.txt; tail -40 /run/disnvme/daemon.log; fail "fio failed"; }
grep -q "err= 0" fio.txt || fail "fio reported errors: $(grep err= fio.txt)"
pass "fio write + verify while each path failed in turn: zero errors"

for i in $(seq 1 40); do
	$DISNVME list -o json >list.json
	python3 -c 'import json,sys; cs=json.load(open("list.json"))["controllers"]; sys.exit(len(cs) != 1)' && break
	sleep 0.5
done
python3 - <<'PY' || fail "after path 2 died: $(cat list.json)"
import json
cs = json.load(open("list.json"))["controllers"]
assert len(cs) == 1 and cs[0]["trsvcid"] == "4420" and cs[0]["state"] == "live", cs
ns = cs[0]["namespaces"][0]
assert ns["device"] == "/dev/ublkb0" and ns["paths"] == 1, ns
PY
[[ -b $dev ]] || fail "$dev went away with one path left"
pass "path 2's controller removed after its ctrl_loss_tmo; $dev stays on path 1"
grep -E "another path|leaves|reconnected|resetting" /run/disnvme/daemon.log

# the same address again: refused, unless --duplicate-connect asks for another controller,
# which joins the device as one more path
if out=$($DISNVME connect -t rdma -a $TGT_ADDR -s 4420 -n $nqn -i 1 2>&1); then
	fail "a second connect to the same address succeeded without -D: $out"
fi
[[ $out == *"already connected"* ]] || fail "duplicate connect refused with: $out"
# --host-traddr: connections leave from the given local address; one that is not local is
# named in the error
if out=$($DISNVME connect -t rdma -a $TGT_ADDR -s 4420 -n $nqn -i 1 -D -w 10.99.0.1 2>&1); then
	fail "connect from a non-local address succeeded: $out"
fi
[[ $out == *"host address 10.99.0.1 is not an address of an RDMA device here"* ]] ||
	fail "connect -w 10.99.0.1 failed with: $out"
dev3=$($DISNVME connect -t rdma -a $TGT_ADDR -s 4420 -n $nqn -i 1 -D -w $TGT_ADDR) ||
	fail "connect -D: $dev3"
[[ $dev3 == "$dev" ]] || fail "connect -D gave $dev3, not $dev"
$DISNVME list -o json >list.json
python3 - <<'PY' || fail "after connect -D: $(cat list.json)"
import json
cs = json.load(open("list.json"))["controllers"]
assert len(cs) == 2 and all(c["trsvcid"] == "4420" for c in cs), cs
assert cs[0]["cntlid"] != cs[1]["cntlid"], cs
for c in cs:
    assert c["namespaces"][0]["device"] == "/dev/ublkb0" and c["namespaces"][0]["paths"] == 2, c
PY
must dd if="$dev" of=/dev/null bs=1M count=8 iflag=direct status=none
pass "a duplicate connect is refused; with -D (and -w) it is a second controller and path of $dev"

must $DISNVME disconnect-all
sleep 0.5
[[ ! -e $dev ]] || fail "$dev left after disconnect-all"
pass "disconnect-all removed the device"
host_daemon_log_clean
