# Helpers for test-VM scenarios (sourced inside the guest, run as root).
# Topology (see docs/testing.md):
#   initial netns: veth "vt" 10.77.0.1/24 with rxe device "rxet"  (targets, userspace hosts)
#   netns "hst":   veth "vh" 10.77.0.2/24 with rxe device "rxeh"  (a kernel host's nvme-cli;
#                  nvme-rdma's own connections stay in the initial netns, over rxet's loopback)
#   netns "hst2":  veth "vh2" 10.77.2.2/24 <-> "vt2" 10.77.2.1/24 with "rxet2"/"rxeh2"
#                  (a second kernel host; made only by topo_up_second_host)
# Scenarios exit 0 on success and non-zero on any failure; they never skip inside the guest.

set -uo pipefail
: "${DISNVME_SRC:?}" "${DISNVME_BUILD:?}" "${DISNVME_OUT:=/vmout}"
TGT_ADDR=10.77.0.1
HOST_ADDR=10.77.0.2
TGT_ADDR2=10.77.2.1
HOST_ADDR2=10.77.2.2
PORT=4420
DISNVME_TARGET=$DISNVME_BUILD/target/disnvme-target
DISNVME=$DISNVME_BUILD/host/disnvme
export PATH=$DISNVME_BUILD/target:$DISNVME_BUILD/host:$PATH

_cleanups=()
log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
fail() { log "FAIL: $*"; exit 1; }
pass() { log "PASS: $*"; }
# run a command, fail the scenario with a message if it fails
must() { "$@" || fail "command failed ($?): $*"; }
# run a command that must fail
must_fail() { if "$@"; then fail "command unexpectedly succeeded: $*"; fi; }
on_exit() { _cleanups=("$*" "${_cleanups[@]}"); }
_run_cleanups() {
	local c
	for c in "${_cleanups[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
}
trap _run_cleanups EXIT

load_modules() {
	local m
	for m in "$@"; do modprobe "$m" || fail "modprobe $m"; done
}

# rxe over a veth pair: target side in the initial namespace, host side in netns "hst".
topo_up() {
	load_modules veth rdma_rxe
	ip link add vt type veth peer name vh || fail "veth"
	ip addr add $TGT_ADDR/24 dev vt
	ip link set vt up
	rdma link add rxet type rxe netdev vt || fail "rdma link add rxet"
	ip netns add hst
	ip link set vh netns hst
	ip -n hst addr add $HOST_ADDR/24 dev vh
	ip -n hst link set vh up
	ip -n hst link set lo up
	ip netns exec hst rdma link add rxeh type rxe netdev vh || fail "rdma link add rxeh"
	on_exit topo_down
	log "topology up: $TGT_ADDR (rxet) <-> hst:$HOST_ADDR (rxeh)"
}

topo_up_second_host() {
	ip link add vt2 type veth peer name vh2 || fail "veth2"
	ip addr add $TGT_ADDR2/24 dev vt2
	ip link set vt2 up
	rdma link add rxet2 type rxe netdev vt2 || fail "rdma link add rxet2"
	ip netns add hst2
	ip link set vh2 netns hst2
	ip -n hst2 addr add $HOST_ADDR2/24 dev vh2
	ip -n hst2 link set vh2 up
	ip -n hst2 link set lo up
	# the second host reaches the target's first address through the target side
	ip -n hst2 route add 10.77.0.0/24 via $TGT_ADDR2
	sysctl -qw net.ipv4.ip_forward=1
	ip netns exec hst2 rdma link add rxeh2 type rxe netdev vh2 || fail "rdma link add rxeh2"
	log "second host: hst2:$HOST_ADDR2 (rxeh2)"
}

topo_down() {
	ip netns del hst2 2>/dev/null
	ip netns del hst 2>/dev/null
	rdma link del rxet2 2>/dev/null
	rdma link del rxet 2>/dev/null
	ip link del vt2 2>/dev/null
	ip link del vt 2>/dev/null
}

# a tmpfs for backing files (the guest's RAM; 9p does not do O_DIRECT well)
DATA=/srv/data
data_dir() {
	mkdir -p $DATA
	mountpoint -q $DATA || mount -t tmpfs -o size=${1:-1200M} tmpfs $DATA || fail "tmpfs $DATA"
}

# sparse_file SIZE PATH...: empty files of SIZE (truncate's units), removed at exit
sparse_file() {
	local size=$1
	shift
	truncate -s "$size" "$@" || fail "truncate -s $size $*"
	on_exit "rm -f $*"
}

in_host() { ip netns exec hst "$@"; }
in_host2() { ip netns exec hst2 "$@"; }

# knvmet_up SUBNQN BACKING_PATH [ADDR] [TRTYPE]: a Linux nvmet target with one namespace,
# any host allowed, on ADDR:4420.
KNVMET=/sys/kernel/config/nvmet
knvmet_up() {
	local nqn=$1 path=$2 addr=${3:-$TGT_ADDR} tr=${4:-rdma}
	load_modules nvmet "nvmet-$tr" "nvme-$tr"
	mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
	mkdir -p "$KNVMET/ports/1"
	echo "$tr" >"$KNVMET/ports/1/addr_trtype"
	echo ipv4 >"$KNVMET/ports/1/addr_adrfam"
	echo "$addr" >"$KNVMET/ports/1/addr_traddr"
	echo $PORT >"$KNVMET/ports/1/addr_trsvcid"
	on_exit knvmet_down
	knvmet_add_subsys "$nqn" "$path"
	log "kernel nvmet-$tr target: $nqn on $addr:$PORT backed by $path"
}

# knvmet_add_subsys SUBNQN BACKING_PATH [PORT_ID]: one more subsystem (one namespace, any
# host) on an existing nvmet port (default 1, the port of knvmet_up)
knvmet_add_subsys() {
	local nqn=$1 path=$2 port=${3:-1}
	mkdir "$KNVMET/subsystems/$nqn" || fail "nvmet subsystem $nqn"
	echo 1 >"$KNVMET/subsystems/$nqn/attr_allow_any_host"
	mkdir "$KNVMET/subsystems/$nqn/namespaces/1"
	echo -n "$path" >"$KNVMET/subsystems/$nqn/namespaces/1/device_path"
	echo 1 >"$KNVMET/subsystems/$nqn/namespaces/1/enable" || fail "nvmet namespace enable"
	knvmet_link "$nqn" "$port"
}

# knvmet_link / knvmet_unlink SUBNQN [PORT_ID]: offer a subsystem on an nvmet port (default 1),
# or take it off: the kernel target's way to make a port go away and come back
knvmet_link() {
	ln -s "$KNVMET/subsystems/$1" "$KNVMET/ports/${2:-1}/subsystems/$1" ||
		fail "nvmet: link $1 to port ${2:-1}"
}
knvmet_unlink() {
	rm "$KNVMET/ports/${2:-1}/subsystems/$1" || fail "nvmet: unlink $1 from port ${2:-1}"
}

# wait_gone PID SECONDS: wait for process PID to end; false if it still runs after SECONDS
wait_gone() {
	local i
	for i in $(seq 1 $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	! kill -0 "$1" 2>/dev/null
}

# rxe_remove [TIMES_FILE]: delete rxet (as a NIC reset or a driver reload takes a device away);
# fail if the kernel has not finished within 30 s: it waits for every process to let go of the
# device. How long it took is printed (and appended to TIMES_FILE). rxe_add brings it back.
rxe_remove() {
	local pid t0
	t0=$(date +%s%N)
	rdma link del rxet &
	pid=$!
	if ! wait_gone $pid 30; then
		for p in $(pgrep -x 'disnvme|disnvme-target'); do ls -l /proc/$p/fd; done
		fail "rdma link del rxet still waits after 30 s: a process holds the device"
	fi
	wait $pid || fail "rdma link del rxet failed"
	printf 'rxet removed in %d ms\n' $((($(date +%s%N) - t0) / 1000000)) |
		tee -a "${1:-/dev/null}"
}
rxe_add() { rdma link add rxet type rxe netdev vt || fail "rdma link add rxet"; }

# log_count FILE PATTERN: how many lines of FILE match PATTERN (0 without FILE);
# wait_log_more FILE PATTERN COUNT SECONDS: wait until more than COUNT do (false after SECONDS)
log_count() {
	local n
	n=$(grep -c -- "$2" "$1" 2>/dev/null)
	echo "${n:-0}"
}
wait_log_more() {
	local f=$1 pat=$2 n0=$3 s=$4 i
	for i in $(seq 1 $((s * 10))); do
		(($(log_count "$f" "$pat") > n0)) && return 0
		sleep 0.1
	done
	return 1
}

knvmet_down() {
	local l s
	for l in "$KNVMET"/ports/*/subsystems/*; do [[ -L $l ]] && rm -f "$l"; done
	for s in "$KNVMET"/subsystems/*; do
		[[ -d $s ]] || continue
		for l in "$s"/namespaces/*; do
			[[ -d $l ]] || continue
			echo 0 >"$l/enable"; rmdir "$l"
		done
		rmdir "$s"
	done
	for l in "$KNVMET"/ports/*; do [[ -d $l ]] && rmdir "$l"; done
}

# kernel host (in netns hst) helpers
khost_connect() { # SUBNQN [ADDR] [extra nvme connect args...]
	local nqn=$1 addr=${2:-$TGT_ADDR}
	shift 2 || shift $#
	load_modules nvme-rdma
	in_host nvme connect -t rdma -a "$addr" -s $PORT -n "$nqn" "$@" || fail "nvme connect $nqn"
	on_exit "nvme disconnect -n '$nqn'"
}

# newest /dev/nvmeXnY (multipath head or plain) whose subsystem NQN is $1; waits up to 20 s
khost_ns_dev() {
	local nqn=$1 i n
	for i in $(seq 1 40); do
		for n in $(ls -t /sys/block 2>/dev/null | grep -E '^nvme[0-9]+n[0-9]+$'); do
			[[ $(cat "/sys/block/$n/device/subsysnqn" 2>/dev/null) == "$nqn" ]] || continue
			[[ $(cat "/sys/block/$n/size") != 0 ]] || continue
			echo "/dev/$n"; return 0
		done
		sleep 0.5
	done
	return 1
}

# two_khosts_up NQN HOSTNQN1 HOSTNQN2 BACKING SIZE [target args...]: disnvme-target exports
# BACKING (a fresh sparse file of SIZE) as NQN on both hosts' addresses, and the Linux host in
# netns hst (HOSTNQN1) and in hst2 (HOSTNQN2) connect, each with its own host ID (the kernel
# refuses one host ID under two NQNs) and, with multipath off, its own block device.
# Sets TLOG, KDEV1, KDEV2 (the block devices) and KCTRL1, KCTRL2 (their controllers). The
# hosts reconnect after 1 s. TWO_HOSTS_NS_EXTRA: more fields for the namespace's JSON object.
two_khosts_up() {
	local nqn=$1 h1=$2 h2=$3 backing=$4 size=$5
	shift 5
	modprobe nvme_core multipath=N || fail "modprobe nvme_core multipath=N"
	[[ $(cat /sys/module/nvme_core/parameters/multipath) == N ]] || fail "multipath still on"
	topo_up
	topo_up_second_host
	data_dir
	sparse_file "$size" "$backing"
	cat >two-hosts.json <<EOF
{
  "ports": [
    { "trtype": "rdma", "adrfam": "ipv4", "traddr": "$TGT_ADDR", "trsvcid": "$PORT" },
    { "trtype": "rdma", "adrfam": "ipv4", "traddr": "$TGT_ADDR2", "trsvcid": "$PORT" }
  ],
  "subsystems": [ {
    "nqn": "$nqn", "allow_any_host": true,
    "namespaces": [ { "nsid": 1, "path": "$backing"${TWO_HOSTS_NS_EXTRA:-} } ]
  } ]
}
EOF
	TLOG=$DISNVME_OUT/target.log
	: >"$TLOG"
	dtgt_start "$TLOG" --config two-hosts.json "$@"
	load_modules nvme-rdma
	in_host nvme connect -t rdma -a $TGT_ADDR -s $PORT -n "$nqn" --hostnqn="$h1" -c 1 \
		--hostid="$(cat /proc/sys/kernel/random/uuid)" || fail "$h1: nvme connect"
	on_exit "in_host nvme disconnect -n $nqn"
	in_host2 nvme connect -t rdma -a $TGT_ADDR2 -s $PORT -n "$nqn" --hostnqn="$h2" -c 1 \
		--hostid="$(cat /proc/sys/kernel/random/uuid)" || fail "$h2: nvme connect"
	on_exit "in_host2 nvme disconnect -n $nqn"
	KDEV1=$(khost_ns_dev_of "$nqn" "$h1") || fail "no block device for $h1"
	KDEV2=$(khost_ns_dev_of "$nqn" "$h2") || fail "no block device for $h2"
	[[ $KDEV1 != "$KDEV2" ]] || fail "both hosts got the same device $KDEV1"
	KCTRL1=/dev/$(basename "$(readlink -f "/sys/block/${KDEV1#/dev/}/device")")
	KCTRL2=/dev/$(basename "$(readlink -f "/sys/block/${KDEV2#/dev/}/device")")
}

# khost_ns_dev_of NQN HOSTNQN: the namespace block device of the kernel host's controller of
# subsystem NQN that HOSTNQN owns (several hosts in one kernel, multipath off: one per controller)
khost_ns_dev_of() {
	local nqn=$1 hostnqn=$2 c n i
	for i in $(seq 1 40); do
		for c in /sys/class/nvme/nvme*; do
			[[ $(cat "$c/subsysnqn" 2>/dev/null) == "$nqn" ]] || continue
			[[ $(cat "$c/hostnqn" 2>/dev/null) == "$hostnqn" ]] || continue
			for n in "$c"/nvme*n*; do
				[[ -e $n/size && $(cat "$n/size") != 0 ]] && { echo "/dev/$(basename "$n")"; return 0; }
			done
		done
		sleep 0.5
	done
	return 1
}

# fio_verify DEV [extra fio args...]: random writes 4k..128k then verify, direct I/O
fio_verify() {
	local dev=$1; shift
	fio --name=verify --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite \
		--bsrange=4k-128k --iodepth=16 --size=64M --verify=crc32c --verify_fatal=1 \
		--do_verify=1 --randrepeat=1 --group_reporting --output-format=terse --terse-version=3 \
		"$@" >"$DISNVME_OUT/fio-$$.terse" 2>"$DISNVME_OUT/fio-$$.err"
	local rc=$?
	[[ $rc == 0 ]] || { cat "$DISNVME_OUT/fio-$$.err"; }
	return $rc
}

# disnvme-target helpers: dtgt_start LOGFILE ARGS... runs `disnvme-target serve ARGS` in the
# background and waits until it listens; dtgt_stop [SIGNAL] stops it and returns its exit code.
DTGT_PID=
dtgt_start() {
	local logf=$1 i n0; shift
	# the log may hold earlier runs: only lines from this one count
	n0=$(cat "$logf" 2>/dev/null | wc -l)
	"$DISNVME_TARGET" serve "$@" >>"$logf" 2>&1 &
	DTGT_PID=$!
	on_exit "kill -9 $DTGT_PID"
	for i in $(seq 1 300); do
		tail -n +$((n0 + 1)) "$logf" | grep -q 'listening on rdma' && return 0
		kill -0 $DTGT_PID 2>/dev/null || { cat "$logf"; fail "disnvme-target exited at start"; }
		sleep 0.1
	done
	cat "$logf"; fail "disnvme-target did not start listening"
}
dtgt_stop() {
	local sig=${1:-TERM} rc
	[[ -n $DTGT_PID ]] || return 0
	kill -"$sig" $DTGT_PID
	wait_gone $DTGT_PID 30 || { log "disnvme-target ignored SIG$sig for 30 s"; kill -9 $DTGT_PID; }
	wait $DTGT_PID; rc=$?
	DTGT_PID=
	return $rc
}

# install_units UNIT...: install the build's programs in the guest as /usr/local/sbin/disnvme
# and /usr/local/sbin/disnvme-target, and the named units from the build's systemd/verify
# directory pointed at them (as `cmake --install` would; a unit's PrivateTmp= would hide a
# build tree that lives under /tmp).
install_units() {
	local u vdir=$DISNVME_BUILD/systemd/verify
	install -m 0755 "$DISNVME" /usr/local/sbin/disnvme || fail "install disnvme"
	install -m 0755 "$DISNVME_TARGET" /usr/local/sbin/disnvme-target || fail "install disnvme-target"
	for u in "$@"; do
		[[ -f $vdir/$u ]] || fail "no unit $vdir/$u"
		sed -E 's#^(Exec[A-Za-z]*=[-@!+:]*)[^ ]*/(disnvme(-target)?)( |$)#\1/usr/local/sbin/\2\4#' \
			"$vdir/$u" >"/etc/systemd/system/$u" || fail "install $u"
	done
}

# dtgt_json TRSVCID NQN PATH [NQN PATH ...]: a disnvme-target config (stdout) with one RDMA port
# on $TGT_ADDR and, for each NQN PATH pair, a subsystem open to any host with PATH as namespace 1
dtgt_json() {
	local port=$1 sep=
	shift
	printf '{\n  "ports": [ { "trtype": "rdma", "adrfam": "ipv4", "traddr": "%s", "trsvcid": "%s" } ],\n  "subsystems": [' \
		"$TGT_ADDR" "$port"
	while (($# >= 2)); do
		printf '%s\n    { "nqn": "%s", "allow_any_host": true, "namespaces": [ { "nsid": 1, "path": "%s" } ] }' \
			"$sep" "$1" "$2"
		sep=,
		shift 2
	done
	printf ' ]\n}\n'
}

# dtgt_config FILE NQN PATH [TRSVCID]: one subsystem (dtgt_json), on port TRSVCID or $PORT
dtgt_config() { dtgt_json "${4:-$PORT}" "$2" "$3" >"$1"; }
JSON
}
