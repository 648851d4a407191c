#!/usr/bin/env bash
# vm-init: systemd
# disnvme-target.service under systemd as PID 1, as installed (hardening included): it starts
# (Type=notify: READY once its port listens), a host discovers and reads through it, reload
# (SIGHUP) keeps it running and picks up a second subsystem, and stop ends it cleanly.
. "$DISNVME_SRC/tests/vm/lib.sh"

[[ $(cat /proc/1/comm) == systemd ]] || fail "PID 1 is $(cat /proc/1/comm), not systemd"
echo "leak:librxe-rdmav" >"$DISNVME_OUT/lsan.supp"
topo_up
data_dir
sparse_file 32M $DATA/t1.img $DATA/t2.img
nqn1=nqn.2014-08.org.disnvme:unit-1
nqn2=nqn.2014-08.org.disnvme:unit-2
write_config() { # NQN...
	local n first=1
	{
		printf '{ "ports": [ { "portid": 1, "trtype": "rdma", "adrfam": "ipv4", '
		printf '"traddr": "%s", "trsvcid": "%s" } ], "subsystems": [' $TGT_ADDR $PORT
		for n in "$@"; do
			(( first )) || printf ','
			first=0
			printf ' { "nqn": "%s", "allow_any_host": true, "namespaces": [ { "path": "%s" } ] }' \
				"$n" "$DATA/t${n##*-}.img"
		done
		printf ' ] }\n'
	} >/etc/disnvme/target.json
}
mkdir -p /etc/disnvme
write_config $nqn1
install_units disnvme-target.service
mkdir -p /etc/systemd/system/disnvme-target.service.d
printf '[Service]\nEnvironment=LSAN_OPTIONS=suppressions=%s\n' "$DISNVME_OUT/lsan.supp" \
	>/etc/systemd/system/disnvme-target.service.d/lsan.conf
on_exit "journalctl -b --no-pager -o short-monotonic >$DISNVME_OUT/journal.txt 2>&1"
on_exit "systemctl stop disnvme-target.service"
must systemctl daemon-reload
systemctl start disnvme-target.service ||
	fail "start: $(systemctl status disnvme-target.service --no-pager; journalctl -u disnvme-target.service --no-pager | tail -20)"
systemctl is-active -q disnvme-target.service || fail "not active after start"
pass "disnvme-target.service started (READY after listening)"

must $DISNVME discover -t rdma -a $TGT_ADDR -s $PORT >disc1.txt
grep -q "subnqn: *$nqn1" disc1.txt || fail "discover: $(cat disc1.txt)"
pass "a host discovers $nqn1 through the service"

write_config $nqn1 $nqn2
must systemctl reload disnvme-target.service
sleep 2
systemctl is-active -q disnvme-target.service || fail "not active after reload"
must $DISNVME discover -t rdma -a $TGT_ADDR -s $PORT >disc2.txt
grep -q "subnqn: *$nqn2" disc2.txt || fail "reload did not add $nqn2: $(cat disc2.txt)"
pass "systemctl reload: $nqn2 served without a restart"

must systemctl stop disnvme-target.service
st=$(systemctl show -p ActiveState --value disnvme-target.service)
res=$(systemctl show -p Result --value disnvme-target.service)
[[ $st == inactive && $res == success ]] || fail "after stop: $st/$res"
journalctl -u disnvme-target.service --no-pager | grep -q "Stopped disnvme-target.service" ||
	fail "the journal does not show the stop"
pass "systemctl stop: inactive, result success"
