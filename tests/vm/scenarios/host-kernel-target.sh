#!/usr/bin/env bash
# disnvme host against the Linux nvmet-rdma target: discover (normal and JSON), connect makes
# /dev/ublkb0 of the namespace's size, fio random write + crc32c verify, ext4 survives a
# remount, list -o json describes the connection, and disconnect removes the device and ends
# the daemon that served it.
. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"

host_scenario_setup
nqn=nqn.2014-08.org.disnvme:host-kernel-target
backing=$DATA/kt.img
size=$((256 << 20))
sparse_file $size "$backing"
knvmet_up $nqn "$backing"

host_e2e $nqn $size
host_daemon_log_clean
