#!/usr/bin/env bash
# disnvme's failures: each one prints one sentence naming its cause, exits with its documented
# status (1: the operation failed, 2: bad command line) and leaves no ublk device and no
# daemon behind. Cases: no ublk in the kernel, not root, unreachable address, no listener on
# the port, unknown subsystem NQN, host not allowed, bad options, disconnecting nothing.
. "$DISNVME_SRC/tests/vm/lib.sh"

echo "leak:librxe-rdmav" >"$DISNVME_OUT/lsan.supp"
export LSAN_OPTIONS=suppressions=$DISNVME_OUT/lsan.supp

nqn=nqn.2014-08.org.disnvme:host-failures
closed=nqn.2014-08.org.disnvme:host-failures-closed
# expect STATUS PATTERN CMD...: the command exits with STATUS, prints exactly one line on
# stderr matching PATTERN (case-insensitive), and leaves no device and no daemon behind
expect() {
	local want=$1 pat=$2 rc
	shift 2
	"$@" >out.txt 2>err.txt
	rc=$?
	[[ $rc == "$want" ]] || fail "$* exited $rc, expected $want: $(cat err.txt)"
	[[ $(grep -c . err.txt) == 1 ]] || fail "$* printed more than one line: $(cat err.txt)"
	grep -qiE -- "$pat" err.txt || fail "$* said \"$(cat err.txt)\", expected /$pat/"
	sleep 0.3
	pgrep -f '^disnvme daemon' >/dev/null && fail "$* left a daemon: $(pgrep -af disnvme)"
	ls /dev/ublkb* /dev/ublkc* >/dev/null 2>&1 && fail "$* left a ublk device: $(ls /dev/ublk*)"
	pass "exit $rc: $(cat err.txt)"
}

topo_up
data_dir
sparse_file 64M $DATA/f.img
knvmet_up $nqn $DATA/f.img
# a second subsystem that admits only one other host
mkdir $KNVMET/subsystems/$closed $KNVMET/hosts/nqn.2014-08.org.disnvme:someone-else
echo 0 >$KNVMET/subsystems/$closed/attr_allow_any_host
ln -s $KNVMET/hosts/nqn.2014-08.org.disnvme:someone-else $KNVMET/subsystems/$closed/allowed_hosts/
mkdir $KNVMET/subsystems/$closed/namespaces/1
echo -n $DATA/f.img >$KNVMET/subsystems/$closed/namespaces/1/device_path
echo 1 >$KNVMET/subsystems/$closed/namespaces/1/enable
ln -s $KNVMET/subsystems/$closed $KNVMET/ports/1/subsystems/$closed
on_exit "rmdir $KNVMET/hosts/nqn.2014-08.org.disnvme:someone-else"
on_exit "rm -f $KNVMET/subsystems/$closed/allowed_hosts/*"

# no ublk in the kernel (the module is not loaded yet)
modprobe -r ublk_drv 2>/dev/null
[[ -e /dev/ublk-control ]] && fail "/dev/ublk-control exists before loading ublk_drv"
expect 1 "no ublk support.*ublk-control" $DISNVME connect -t rdma -a $TGT_ADDR -n $nqn
load_modules ublk_drv

# not root
expect 1 "must run as root" setpriv --reuid=65534 --regid=65534 --clear-groups \
	$DISNVME connect -t rdma -a $TGT_ADDR -n $nqn

# unreachable: an address on the RDMA subnet that nobody has, and one no route leads to
expect 1 "10\.77\.0\.99:4420 is unreachable" $DISNVME connect -t rdma -a 10.77.0.99 -n $nqn
expect 1 "10\.99\.0\.1:4420 is unreachable" $DISNVME connect -t rdma -a 10.99.0.1 -n $nqn
expect 1 "10\.77\.0\.99:4420 is unreachable" $DISNVME discover -t rdma -a 10.77.0.99
# the right host, a port nobody listens on
expect 1 "10\.77\.0\.1:4421 refused.*nothing listens" \
	$DISNVME connect -t rdma -a $TGT_ADDR -s 4421 -n $nqn
# an NQN the target does not have
expect 1 "has no subsystem nqn\.2014-08\.org\.disnvme:nope" \
	$DISNVME connect -t rdma -a $TGT_ADDR -n nqn.2014-08.org.disnvme:nope
# a subsystem that does not admit this host
expect 1 "refused host nqn\.2014-08\.org\.disnvme:me.*$closed" \
	$DISNVME connect -t rdma -a $TGT_ADDR -n $closed -q nqn.2014-08.org.disnvme:me

# bad command lines
expect 2 "-n SUBSYSTEM_NQN is required" $DISNVME connect -t rdma -a $TGT_ADDR
expect 2 "transport \"tcp\" is not supported" $DISNVME connect -t tcp -a $TGT_ADDR -n $nqn
expect 2 "--queue-size must be" $DISNVME connect -t rdma -a $TGT_ADDR -n $nqn -Q 1
expect 2 "-a ADDRESS is required" $DISNVME discover -t rdma
expect 2 "unknown command" $DISNVME frobnicate
expect 1 "not a UUID" $DISNVME connect -t rdma -a $TGT_ADDR -n $nqn -I not-a-uuid

# nothing connected: disconnect says so
expect 1 "no disnvme daemon is running" $DISNVME disconnect -n $nqn

# with a live connection: disconnecting something else fails and keeps it
dev=$($DISNVME connect -t rdma -a $TGT_ADDR -n $nqn) || fail "connect: $dev"
on_exit "$DISNVME disconnect-all"
[[ -b $dev ]] || fail "no $dev"
$DISNVME disconnect -n nqn.2014-08.org.disnvme:nope 2>err.txt
[[ $? == 1 ]] && grep -q "no controller of subsystem nqn.2014-08.org.disnvme:nope" err.txt ||
	fail "disconnect of an unknown NQN: $(cat err.txt)"
$DISNVME disconnect -d /dev/ublkb7 2>err.txt
[[ $? == 1 ]] && grep -q "/dev/ublkb7 is not a disnvme device" err.txt ||
	fail "disconnect of an unknown device: $(cat err.txt)"
$DISNVME connect -t rdma -a $TGT_ADDR -n $nqn 2>err.txt
[[ $? == 1 ]] && grep -q "already connected" err.txt || fail "second connect: $(cat err.txt)"
[[ -b $dev ]] || fail "$dev vanished after failed requests"
pass "failed requests leave the live connection alone"
must $DISNVME disconnect -d "$dev"
sleep 0.5
[[ ! -e $dev ]] && ! pgrep -f '^disnvme daemon' >/dev/null || fail "disconnect -d left something"
pass "disconnect -d $dev"
if grep -E 'Sanitizer|runtime error' /run/disnvme/daemon.log; then
	cp /run/disnvme/daemon.log "$DISNVME_OUT/"
	fail "the daemon hit a sanitizer error"
fi
pass "daemon log clean"
