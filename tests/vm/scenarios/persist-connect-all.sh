#!/usr/bin/env bash
# connect-all from a discovery.conf written with `disnvme config`, against the Linux
# nvmet-rdma target: a discovery controller whose log refers to a second port (the referral
# is followed and both subsystems connect), plus an entry where nothing listens. The first run
# connects what is reachable, names the failing entry and exits non-zero; once the bad entry
# is removed, runs report everything as already connected, change nothing and exit 0. Then the
# discovery controller given on the command line instead of the file. nvme-cli reads the same
# file.
. "$DISNVME_SRC/tests/vm/lib.sh"

echo "leak:librxe-rdmav" >"$DISNVME_OUT/lsan.supp"
export LSAN_OPTIONS=suppressions=$DISNVME_OUT/lsan.supp
topo_up
load_modules ublk_drv
data_dir
nqn1=nqn.2014-08.org.disnvme:persist-a
nqn2=nqn.2014-08.org.disnvme:persist-b
sparse_file 64M $DATA/pa.img $DATA/pb.img
knvmet_up $nqn1 $DATA/pa.img
# subsystem b only on a second port, 4421; port 1 refers to it
p=$KNVMET/ports/2
mkdir "$p" && echo rdma >"$p/addr_trtype" && echo ipv4 >"$p/addr_adrfam" &&
	echo $TGT_ADDR >"$p/addr_traddr" && echo 4421 >"$p/addr_trsvcid" || fail "nvmet port 2"
knvmet_add_subsys $nqn2 $DATA/pb.img 2
r=$KNVMET/ports/1/referrals/to-port2
mkdir "$r" && echo rdma >"$r/addr_trtype" && echo ipv4 >"$r/addr_adrfam" &&
	echo $TGT_ADDR >"$r/addr_traddr" && echo 4421 >"$r/addr_trsvcid" && echo 1 >"$r/enable" ||
	fail "nvmet referral"
on_exit "echo 0 >$r/enable; rmdir $r"
on_exit "cp /run/disnvme/daemon.log $DISNVME_OUT/daemon.log"
on_exit "$DISNVME disconnect-all"

conf=$DISNVME_OUT/discovery.conf
rm -f "$conf"
must $DISNVME config add --config-file "$conf" -t rdma -a $TGT_ADDR -s $PORT -l -1 -c 1
must $DISNVME config add --config-file "$conf" -t rdma -a $TGT_ADDR -s 4430
must_fail $DISNVME config add --config-file "$conf" -t rdma -a $TGT_ADDR
must $DISNVME config list --config-file "$conf" -o json >conf.json
python3 -c 'import json; d = json.load(open("conf.json")); assert len(d["entries"]) == 2, d' ||
	fail "config list: $(cat conf.json)"
pass "config add/list: $(wc -l <"$conf") entries"

$DISNVME connect-all --config-file "$conf" >run1.txt 2>run1.err
rc=$?
cat run1.txt run1.err
[[ $rc == 1 ]] || fail "connect-all with an unreachable entry exited $rc, expected 1"
grep -q "^$conf:1 rdma $TGT_ADDR:$PORT: 2 subsystems via 2 discovery controllers: 2 connected, 0 already connected" run1.txt ||
	fail "entry 1 did not connect both subsystems: $(cat run1.txt)"
grep -q "^$conf:2 rdma $TGT_ADDR:4430: discovery at $TGT_ADDR:4430 FAILED: " run1.txt ||
	fail "entry 2's failure is not named: $(cat run1.txt)"
must $DISNVME list -o json >list1.json
python3 - "$nqn1" "$nqn2" <<'PY' || fail "list after connect-all: $(cat list1.json)"
import json, sys
d = json.load(open("list1.json"))
nqns = sorted(c["subsysnqn"] for c in d["controllers"])
assert nqns == sorted(sys.argv[1:3]), nqns
for c in d["controllers"]:
    assert c["state"] == "live" and len(c["namespaces"]) == 1, c
PY
for dev in $(python3 -c 'import json; [print(n["device"]) for c in json.load(open("list1.json"))["controllers"] for n in c["namespaces"]]'); do
	[[ -b $dev ]] || fail "$dev missing"
	must dd if=/dev/urandom of=pat.bin bs=1M count=4 status=none
	must dd if=pat.bin of=$dev bs=1M oflag=direct status=none
	must dd if=$dev of=back.bin bs=1M count=4 iflag=direct status=none
	cmp -s pat.bin back.bin || fail "data read back from $dev differs"
done
pass "first run: both subsystems (one through the referral) connected, the unreachable entry named, exit 1"

must $DISNVME config remove --config-file "$conf" -t rdma -a $TGT_ADDR -s 4430
for run in 2 3; do
	$DISNVME connect-all --config-file "$conf" >run$run.txt 2>run$run.err
	rc=$?
	cat run$run.txt run$run.err
	[[ $rc == 0 ]] || fail "run $run exited $rc"
	grep -q "^$conf:1 rdma $TGT_ADDR:$PORT: 2 subsystems via 2 discovery controllers: 0 connected, 2 already connected$" run$run.txt ||
		fail "run $run reported something new: $(cat run$run.txt)"
done
must $DISNVME list -o json >list2.json
python3 -c 'import json,sys; a=json.load(open("list1.json")); b=json.load(open("list2.json")); assert [c["name"] for c in a["controllers"]] == [c["name"] for c in b["controllers"]], (a, b)' ||
	fail "controllers changed across idempotent runs"
pass "second and third runs: nothing new, exit 0, same controllers"

# as with nvme-cli, the discovery controller can be given on the command line instead: the
# subsystem disconnected meanwhile is connected again, with the options given there (-k 7)
must $DISNVME disconnect -n $nqn2
$DISNVME connect-all -t rdma -a $TGT_ADDR -s $PORT -k 7 >run4.txt 2>run4.err
rc=$?
cat run4.txt run4.err
[[ $rc == 0 ]] || fail "connect-all from the command line exited $rc"
grep -q "^rdma $TGT_ADDR:$PORT: 2 subsystems via 2 discovery controllers: 1 connected, 1 already connected; connected $nqn2 at $TGT_ADDR:4421 (/dev/ublkb" run4.txt ||
	fail "connect-all from the command line: $(cat run4.txt)"
must $DISNVME list -o json >list3.json
python3 - "$nqn1" "$nqn2" <<'PY' || fail "list after connect-all -t -a: $(cat list3.json)"
import json, sys
d = json.load(open("list3.json"))
c = {c["subsysnqn"]: c for c in d["controllers"]}
assert sorted(c) == sorted(sys.argv[1:3]), c
assert c[sys.argv[2]]["kato"] == 7 and c[sys.argv[2]]["state"] == "live", c[sys.argv[2]]
assert c[sys.argv[1]]["kato"] == 5, c[sys.argv[1]]
PY
pass "connect-all -t rdma -a $TGT_ADDR -s $PORT -k 7: the disconnected subsystem back, with KATO 7"

# the file is nvme-cli's format for real: the Linux host (netns hst) discovers through it
mkdir -p /etc/nvme
cp "$conf" /etc/nvme/discovery.conf && on_exit "rm -f /etc/nvme/discovery.conf"
load_modules nvme-rdma
in_host nvme discover >nvme-cli.txt 2>&1 || fail "nvme discover with disnvme's discovery.conf: $(cat nvme-cli.txt)"
grep -q "subnqn: *$nqn1" nvme-cli.txt || fail "nvme-cli did not use the file: $(cat nvme-cli.txt)"
pass "nvme-cli's discover reads the discovery.conf disnvme wrote"
