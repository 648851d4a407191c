#!/usr/bin/env bash
# vm-init: systemd
# systemd is PID 1 (the line above asks run-vm.sh for it). The units, as generated for this
# build tree, are installed and enabled: disnvmed.service and disnvme-connect-all.timer, with
# discovery.conf listing the Linux nvmet-rdma target (ctrl-loss-tmo 5). The timer connects
# /dev/ublkb0; the target then vanishes (its subsystem unlinked from the port) for longer than
# ctrl-loss-tmo, so the device goes away; once the target is back, the device must return
# within one timer period (60 s), shown by the journal and by reading back what was written
# before the outage.
. "$DISNVME_SRC/tests/vm/lib.sh"

[[ $(cat /proc/1/comm) == systemd ]] || fail "PID 1 is $(cat /proc/1/comm), not systemd"
echo "leak:librxe-rdmav" >"$DISNVME_OUT/lsan.supp"
topo_up
load_modules ublk_drv
data_dir
nqn=nqn.2014-08.org.disnvme:persist-timer
backing=$DATA/timer.img
sparse_file 64M $backing
knvmet_up $nqn $backing
on_exit "journalctl -b --no-pager -o short-monotonic >$DISNVME_OUT/journal.txt 2>&1"
on_exit "systemctl stop disnvme-connect-all.timer disnvmed.service"

mkdir -p /etc/nvme
rm -f /etc/nvme/discovery.conf
must $DISNVME config add -t rdma -a $TGT_ADDR -s $PORT -l 5 -c 1
install_units disnvmed.service disnvme-connect-all.service disnvme-connect-all.timer
# the sanitizer build's leak checker: rdma-core's rxe provider keeps a little until exit
mkdir -p /etc/systemd/system/disnvmed.service.d /etc/systemd/system/disnvme-connect-all.service.d
for d in disnvmed disnvme-connect-all; do
	printf '[Service]\nEnvironment=LSAN_OPTIONS=suppressions=%s\n' "$DISNVME_OUT/lsan.supp" \
		>/etc/systemd/system/$d.service.d/lsan.conf
done
must systemctl daemon-reload
t0=$(date +%s)
must systemctl enable --now disnvmed.service disnvme-connect-all.timer
systemctl is-active -q disnvmed.service || fail "disnvmed.service: $(systemctl status disnvmed.service)"
pass "disnvmed.service active (Type=notify), timer enabled"

wait_dev() { # SECONDS: wait until /dev/ublkb0 exists
	local end=$(( $(date +%s) + $1 ))
	while [[ ! -b /dev/ublkb0 ]]; do
		(( $(date +%s) < end )) || return 1
		sleep 0.5
	done
}
wait_dev 90 || fail "no /dev/ublkb0 90 s after enabling the timer: $(journalctl -u disnvme-connect-all.service --no-pager | tail -20)"
pass "timer's first connect-all: /dev/ublkb0 after $(( $(date +%s) - t0 )) s"
must dd if=/dev/urandom of=pat.bin bs=1M count=8 status=none
must dd if=pat.bin of=/dev/ublkb0 bs=1M oflag=direct conv=fsync status=none
journalctl -u disnvme-connect-all.service --no-pager | grep -q "1 subsystem: 1 connected" ||
	fail "the journal does not show connect-all connecting: $(journalctl -u disnvme-connect-all.service --no-pager | tail)"

# outage longer than ctrl-loss-tmo: the device must go away
knvmet_unlink $nqn
t_down=$(date +%s)
end=$(( t_down + 60 ))
while [[ -b /dev/ublkb0 ]]; do
	(( $(date +%s) < end )) ||
		fail "/dev/ublkb0 still there 60 s into the outage (ctrl-loss-tmo 5); the daemon lists: $($DISNVME list 2>&1)"
	sleep 0.5
done
pass "target gone: /dev/ublkb0 removed $(( $(date +%s) - t_down )) s into the outage"
sleep 10

knvmet_link $nqn
t_up=$(date +%s)
wait_dev 75 || fail "/dev/ublkb0 not back 75 s after the target came back: $(journalctl -u disnvme-connect-all.service --no-pager | tail -20)"
back=$(( $(date +%s) - t_up ))
(( back <= 62 )) || fail "/dev/ublkb0 came back after $back s, more than one timer period"
must dd if=/dev/ublkb0 of=back.bin bs=1M count=8 iflag=direct status=none
cmp -s pat.bin back.bin || fail "data written before the outage does not read back"
journalctl -u disnvme-connect-all.service --no-pager -o short-monotonic | tee connect-all-journal.txt | tail -5
[[ $(grep -c "1 subsystem: 1 connected" connect-all-journal.txt) -ge 2 ]] ||
	fail "the journal does not show the reconnect by connect-all"
pass "target back: /dev/ublkb0 again after $back s (timer period 60 s), data read back identical"
