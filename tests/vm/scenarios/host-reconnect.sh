#!/usr/bin/env bash
# Controller reset against the Linux nvmet target (issue 5 point 3): the target's port loses
# the subsystem (unlinked in configfs) five times, for 1, 3, 5, 7 and 10 s, while fio crc32c
# random write + verify passes run on /dev/ublkb0. The disnvme host keeps the device, holds
# the I/O, reconnects (admin and I/O queues) and sends the held commands again: every fio pass
# ends with zero errors and reads back all it wrote. For each outage the time from relinking to
# a held read completing is written to relink-times.txt (printed, not asserted).
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_scenario_setup
nqn=nqn.2014-08.org.disnvme:host-reconnect
backing=$DATA/rc.img
sparse_file 256M "$backing"
knvmet_up $nqn "$backing"
dlog=/run/disnvme/daemon.log

dev=$($DISNVME connect -t rdma -a $TGT_ADDR -n $nqn -i 2 -k 5 -c 0.1 -l 60) || fail "connect: $dev"
on_exit "$DISNVME disconnect-all"
[[ $dev == /dev/ublkb0 ]] || fail "connect printed $dev"

outages_under_fio "$dev" "$DISNVME_OUT/relink-times.txt" "knvmet_unlink $nqn" "knvmet_link $nqn" \
	"subsystem unlinked from its port"
grep "resetting the controller\|reconnected" $dlog | tail -10
pass "$FIO_LOOP_PASSES fio write+verify passes across 5 target outages (1..10 s): zero errors"

$DISNVME list -o json >list.json
python3 -c 'import json; c = json.load(open("list.json"))["controllers"][0]; assert c["state"] == "live", c' ||
	fail "controller not live after the reconnects: $(cat list.json)"
must $DISNVME disconnect -n $nqn
[[ ! -e $dev ]] || fail "$dev left after disconnect"
pass "live again, and disconnect is clean"
host_daemon_log_clean
