#!/usr/bin/env bash
# Controller reset against the Linux nvmet target (issue 5 point 3): the target's port loses
# the subsystem (unlinked in configfs) five times, for 1, 3, 5, 7 and 10 s, while fio crc32c
# random write + verify passes run on /dev/ublkb0. The disnvme host keeps the device, holds
# the I/O, reconnects (admin and I/O queues) and sends the held commands again: every fio pass
# ends with zero errors and reads back all it wrote. For each outage the time from relinking to
# a held read completing is written to relink-times.txt (printed, not asserted).
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_lsan_setup
topo_up
load_modules ublk_drv
data_dir
nqn=nqn.2014-08.org.disnvme:host-reconnect
backing=$DATA/rc.img
truncate -s 256M "$backing" && on_exit "rm -f $backing"
knvmet_up $nqn "$backing"
dlog=/run/disnvme/daemon.log

dev=$($DISNVME connect -t rdma -a $TGT_ADDR -n $nqn -i 2 -k 5 -c 0.1 -l 60) || fail "connect: $dev"
on_exit "$DISNVME disconnect-all"
[[ $dev == /dev/ublkb0 ]] || fail "connect printed $dev"

times=$DISNVME_OUT/relink-times.txt
: >"$times"
fio_loop_start "$dev"
for outage in 1 3 5 7 10; do
	sleep 4
	fio_loop_alive
	n_rc=$(grep -c "reconnected as controller" $dlog)
	rm "$KNVMET/ports/1/subsystems/$nqn" || fail "unlink the subsystem from the port"
	log "target: subsystem unlinked from its port for $outage s"
	sleep 0.5
	probe_start "$dev"
	sleep $((outage - 1)).5
	t0=$(date +%s%N)
	ln -s "$KNVMET/subsystems/$nqn" "$KNVMET/ports/1/subsystems/$nqn" || fail "relink"
	probe_wait
	t1=$PROBE_END
	for i in $(seq 1 100); do
		(($(grep -c "reconnected as controller" $dlog) > n_rc)) && break
		sleep 0.1
	done
	(($(grep -c "reconnected as controller" $dlog) > n_rc)) ||
		fail "no reconnect after outage $outage s: $(tail -20 $dlog)"
	printf 'outage %2d s: relink -> read through %s completed: %5d ms\n' \
		"$outage" "$dev" "$(ms_between "$t0" "$t1")" | tee -a "$times"
done
sleep 3
fio_loop_stop
grep "resetting the controller\|reconnected" $dlog | tail -10
python3 - "$times" <<'PY'
import sys, statistics
ms = [int(l.split()[-2]) for l in open(sys.argv[1])]
print(f"relink -> I/O: median {statistics.median(ms)} ms, max {max(ms)} ms, all {ms}")
PY
pass "$FIO_LOOP_PASSES fio write+verify passes across 5 target outages (1..10 s): zero errors"

$DISNVME list -o json >list.json
python3 -c 'import json; c = json.load(open("list.json"))["controllers"][0]; assert c["state"] == "live", c' ||
	fail "controller not live after the reconnects: $(cat list.json)"
must $DISNVME disconnect -n $nqn
[[ ! -e $dev ]] || fail "$dev left after disconnect"
pass "live again, and disconnect is clean"
host_daemon_log_clean
