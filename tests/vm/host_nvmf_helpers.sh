# The disnvme host's end-to-end checks, shared by the scenarios that run them against different
# targets (host-kernel-target.sh: Linux nvmet-rdma; host-disnvme-target.sh: disnvme-target).
# Sourced after lib.sh.

# rdma-core's rxe provider keeps a few bytes per context until exit: not ours to report
host_lsan_setup() {
	echo "leak:librxe-rdmav" >"$DISNVME_OUT/lsan.supp"
	export LSAN_OPTIONS=suppressions=$DISNVME_OUT/lsan.supp
	on_exit "cp /run/disnvme/daemon.log $DISNVME_OUT/daemon.log"
}

# host_scenario_setup [MODULE...]: how every host scenario starts: leak reports set up for the
# daemon, the topology, ublk (and MODULEs) loaded, $DATA ready
host_scenario_setup() {
	host_lsan_setup
	topo_up
	load_modules ublk_drv "$@"
	data_dir
}

host_daemon_log_clean() {
	cp /run/disnvme/daemon.log "$DISNVME_OUT/daemon.log" 2>/dev/null
	if grep -E 'Sanitizer|runtime error' /run/disnvme/daemon.log; then
		fail "the daemon hit a sanitizer error"
	fi
	pass "daemon log clean"
}

# host_e2e NQN SIZE_BYTES: discover, connect, size, list, fio verify, ext4 remount, disconnect
host_e2e() {
	local nqn=$1 size=$2 out dev pid mnt=/mnt/hostnvmf i

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

	fio --name=verify --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite \
		--bsrange=4k-128k --iodepth=32 --numjobs=2 --size=64M --offset_increment=64M \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=1 --group_reporting \
		>fio.txt 2>&1 || { tail -30 fio.txt; fail "fio verify on $dev"; }
	grep -q "err= 0" fio.txt || fail "fio reported errors: $(grep err= fio.txt)"
	pass "fio randwrite 4k..128k QD32 x2 jobs + crc32c verify on $dev: zero errors"

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
	wait_gone "$pid" 5 || fail "daemon $pid still runs after the last disconnect"
	[[ -z $(ls /dev/ublkb* /dev/ublkc* 2>/dev/null) ]] || fail "ublk devices left: $(ls /dev/ublk*)"
	pass "disconnect removed $dev and the daemon ($pid) ended"
}

# ---- outages under load (persist-target-restarts.sh, host-reconnect.sh) ----

# fio_loop_start DEV [TAG]: fio crc32c random write + verify passes over DEV, one after another,
# until fio_loop_stop [TAG]. Each pass writes 48 MiB in 4k..128k blocks at QD32 (2 jobs) and
# then reads all of it back. Outages land in write and verify phases alike. Loops with
# different TAGs run side by side (their passes go to $DISNVME_OUT/fio-loop[-TAG]/).
declare -A FIO_LOOP_PIDS
fio_loop_dir() { echo "$DISNVME_OUT/fio-loop${1:+-$1}"; }
fio_loop_start() {
	local dev=$1 dir
	dir=$(fio_loop_dir "${2:-}")
	rm -rf "$dir" && mkdir -p "$dir"
	(
		n=0
		while [[ ! -e $dir/stop ]]; do
			n=$((n + 1))
			fio --name=pass$n --filename="$dev" --ioengine=libaio --direct=1 \
				--rw=randwrite --bsrange=4k-128k --iodepth=32 --numjobs=2 --size=24M \
				--offset_increment=64M --verify=crc32c --verify_fatal=1 --do_verify=1 \
				--randseed=$n --group_reporting >"$dir/pass$n.txt" 2>&1 || exit 1
		done
	) &
	FIO_LOOP_PIDS[${2:-_}]=$!
}

# fio_loop_stop [TAG]: let the running pass finish; every pass must have ended with zero errors
# (their number goes to FIO_LOOP_PASSES)
fio_loop_stop() {
	local f n=0 dir
	dir=$(fio_loop_dir "${1:-}")
	touch "$dir/stop"
	wait "${FIO_LOOP_PIDS[${1:-_}]}" || {
		f=$(ls -t "$dir"/pass*.txt | head -1)
		tail -30 "$f"; fail "fio pass ${1:-}${1:+ }$(basename "$f" .txt) failed"
	}
	for f in "$dir"/pass*.txt; do
		grep -q "err= 0" "$f" || fail "$(basename "$f"): $(grep err= "$f")"
		# the verify phase shows as reads of everything written
		grep -q "read: IOPS" "$f" || fail "$(basename "$f") has no verify reads: $(cat "$f")"
		n=$((n + 1))
	done
	FIO_LOOP_PASSES=$n
}

# fio_loop_alive [TAG]: fail unless that fio loop still runs
fio_loop_alive() {
	kill -0 "${FIO_LOOP_PIDS[${1:-_}]}" 2>/dev/null && return 0
	fio_loop_stop "${1:-}"
	fail "the fio loop ${1:-}${1:+ }ended early"
}

# probe_start DEV [TAG]: one 4 KiB direct read, in the background. Started during an outage,
# it is held until I/O flows again. probe_wait [TAG] [SECONDS] waits for it (false if it still
# runs after SECONDS, when given: the shell around the read is killed, the read itself may stay
# held), fails the scenario if the read failed, and sets PROBE_END to when it ended (ns since
# the epoch). A TAG lets several probes run at once.
# (probe_wait must run in the shell that started the probe, not in a $(...) subshell.)
declare -A PROBE_PIDS
probe_start() {
	local end="$DISNVME_OUT/probe-${2:-_}.end"
	rm -f "$end"
	(dd if="$1" of=/dev/null bs=4k count=1 skip=$((RANDOM % 4096)) iflag=direct status=none &&
		date +%s%N >"$end") &
	PROBE_PIDS[${2:-_}]=$!
}
probe_wait() {
	local pid=${PROBE_PIDS[${1:-_}]}
	if [[ -n ${2:-} ]] && ! wait_gone "$pid" "$2"; then
		kill "$pid" 2>/dev/null
		return 1
	fi
	wait "$pid" || fail "the probe read ${1:-}${1:+ }failed"
	PROBE_END=$(cat "$DISNVME_OUT/probe-${1:-_}.end")
}

# hms_ms HH:MM:SS.mmm (a disnvme log line's time stamp) -> ms since midnight
hms_ms() {
	local h m s ms
	IFS=:. read -r h m s ms <<<"$1"
	echo $(((10#$h * 3600 + 10#$m * 60 + 10#$s) * 1000 + 10#$ms))
}

# ms_between T0_NS T1_NS
ms_between() { echo $((($2 - $1) / 1000000)); }

# outages_under_fio DEV TIMES_FILE DOWN UP WHAT [EXTRA]: back-to-back fio write+verify passes
# (fio_loop_start) on DEV while the target goes away five times, for 1, 3, 5, 7 and 10 s. DOWN
# and UP are shell functions that take the target away and bring it back; WHAT names the
# outage for the log. Each time, a read started during the outage (so held) must complete once
# the target is back, and the daemon must log a reconnect. The time from calling UP to that
# read completing goes to TIMES_FILE, one line per outage, followed by EXTRA's output (an
# optional function, which finds the time UP was called in OUTAGE_UP, "HH:MM:SS.mmm" as in the
# logs) and at the end the median and maximum. Every fio pass must end clean.
outages_under_fio() {
	local dev=$1 times=$2 down=$3 up=$4 what=$5 extra=${6:-} outage n_rc t0 dlog
	dlog=/run/disnvme/daemon.log
	: >"$times"
	fio_loop_start "$dev"
	for outage in 1 3 5 7 10; do
		sleep 4
		fio_loop_alive
		n_rc=$(log_count $dlog "reconnected as controller")
		$down
		log "target: $what for $outage s"
		sleep 0.5
		probe_start "$dev"
		sleep $((outage - 1)).5
		t0=$(date +%s%N)
		OUTAGE_UP=$(date -d "@$((t0 / 1000000000))" +%T).$(printf %03d $((t0 / 1000000 % 1000)))
		$up
		probe_wait
		wait_log_more $dlog "reconnected as controller" "$n_rc" 10 ||
			fail "no reconnect after outage $outage s: $(tail -20 $dlog)"
		printf 'outage %2d s: target back -> read through %s completed: %5d ms\n' \
			"$outage" "$dev" "$(ms_between "$t0" "$PROBE_END")" | tee -a "$times"
		[[ -z $extra ]] || $extra | tee -a "$times"
	done
	sleep 3
	fio_loop_stop
	python3 - "$times" <<'PY'
import re, statistics, sys
ms = [int(m.group(1)) for m in re.finditer(r"completed: +(\d+) ms", open(sys.argv[1]).read())]
line = f"target back -> I/O: median {statistics.median(ms)} ms, max {max(ms)} ms, all {ms}"
print(line)
open(sys.argv[1], "a").write(line + "\n")
PY
}
