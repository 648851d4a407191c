#!/usr/bin/env bash
# Installs what building and testing disnvme needs on Debian 12 (run as root). Idempotent:
# packages already present are left alone. The test VM's kernel is fetched by
# tests/vm/run-vm.sh on first use.
set -euo pipefail

pkgs=(
	# build
	cmake make gcc clang pkg-config libclang-rt-14-dev clang-format
	librdmacm-dev libibverbs-dev liburing-dev libnvme-dev libsystemd-dev libjson-c-dev
	libcmocka-dev
	# test VM and the peers used in it
	qemu-system-x86 busybox-static kmod cpio xz-utils iproute2 fio nvme-cli rdma-core
	ibverbs-utils ibverbs-providers rdmacm-utils e2fsprogs util-linux dmsetup systemd python3
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	if [[ $(id -u) != 0 ]]; then
		echo "install-deps: need root to install: ${missing[*]}" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
