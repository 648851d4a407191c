#!/usr/bin/env bash
# disnvme host against disnvme-target (both userspace, both in the initial netns on rxet):
# the same checks as host-kernel-target.sh: discover, connect, size, list -o json, fio verify,
# ext4 remount, disconnect ends the daemon.
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_scenario_setup
nqn=nqn.2014-08.org.disnvme:host-disnvme-target
backing=$DATA/dt.img
size=$((256 << 20))
sparse_file $size "$backing"
dtgt_config dt.json $nqn "$backing"
tlog=$DISNVME_OUT/target.log
: >"$tlog"
dtgt_start "$tlog" --config dt.json

host_e2e $nqn $size
host_daemon_log_clean
dtgt_stop TERM || fail "disnvme-target exited $? on SIGTERM"
pass "disnvme-target exited 0"
