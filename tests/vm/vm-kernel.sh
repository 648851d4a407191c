# Sourced by run-vm.sh: makes sure qemu and the guest kernel + initrd are at hand.
# The kernel is Debian bookworm-backports' 6.12 (it has rdma_rxe, ublk_drv, nvme, nvme-rdma,
# nvmet-rdma, veth); bookworm's own 6.1 has no ublk. It is fetched once with apt from the
# Debian mirror this machine's apt already uses, and cached.

VM_CACHE=${DISNVME_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/disnvme-test-vm}
VM_KPKG=linux-image-6.12.95+deb12-amd64-unsigned
VM_KVER=6.12.95+deb12-amd64
# needed by the initrd before the root file system is mounted
VM_EARLY_MODS="netfs 9pnet 9pnet_virtio 9p overlay"

vm_need() { command -v "$1" >/dev/null 2>&1; }

vm_ensure_tools() {
	if ! vm_need qemu-system-x86_64 || ! vm_need busybox || ! vm_need modprobe ||
		! vm_need cpio || ! vm_need xz; then
		if [[ $(id -u) == 0 ]] && vm_need apt-get; then
			apt-get update -qq >/dev/null || true
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
				qemu-system-x86 busybox-static kmod cpio xz-utils iproute2 >/dev/null || true
		fi
	fi
	if ! vm_need qemu-system-x86_64; then
		echo "run-vm: qemu-system-x86_64 is not installed and cannot be installed: skipping" >&2
		return 1
	fi
	for t in busybox modprobe cpio xz depmod; do
		vm_need "$t" || { echo "run-vm: $t is missing (apt-get install busybox-static kmod cpio xz-utils)" >&2; exit 1; }
	done
}

vm_mirror() {
	local m
	m=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -v security | head -1 | awk '{print $1}')
	[[ -n $m ]] || m=$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
	echo "$m"
}

vm_ensure_kernel() {
	[[ -f $VM_CACHE/vmlinuz && -d $VM_CACHE/root/lib/modules/$VM_KVER ]] && return 0
	local apt_dir=$VM_CACHE/apt mirror
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
	mirror=$(vm_mirror)
	[[ -n $mirror ]] || { echo "run-vm: cannot find the Debian mirror apt uses" >&2; exit 1; }
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm-backports main" \
		>"$apt_dir/sources.list"
	local opts=(-o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir")
	echo "run-vm: fetching the guest kernel $VM_KPKG (once)" >&2
	apt-get "${opts[@]}" -o APT::Sandbox::User=root update -qq
	(cd "$apt_dir" && apt-get "${opts[@]}" -o APT::Sandbox::User=root download "$VM_KPKG" >/dev/null)
	rm -rf "$VM_CACHE/root" && mkdir -p "$VM_CACHE/root"
	dpkg -x "$apt_dir"/"${VM_KPKG}"_*.deb "$VM_CACHE/root"
	depmod -b "$VM_CACHE/root" "$VM_KVER"
	rm -f "$apt_dir"/"${VM_KPKG}"_*.deb "$VM_CACHE/initrd-v6.img"
	cp "$VM_CACHE/root/boot/vmlinuz-$VM_KVER" "$VM_CACHE/vmlinuz.tmp"
	mv "$VM_CACHE/vmlinuz.tmp" "$VM_CACHE/vmlinuz"
}

vm_ensure_initrd() {
	[[ -f $VM_CACHE/initrd-v6.img ]] && return 0
	local ird m f
	ird=$(mktemp -d)
	mkdir -p "$ird"/{bin,mods,proc,sys,dev,mnt/host,mnt/mods,mnt/rw,newroot}
	cp "$(command -v busybox)" "$ird/bin/"
	for m in $VM_EARLY_MODS; do
		f=$(modprobe -d "$VM_CACHE/root" -S "$VM_KVER" --show-depends "$m" | awk '{print $2}' | tail -1)
		xz -dc "$f" >"$ird/mods/$m.ko"
	done
	cat >"$ird/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in netfs 9pnet 9pnet_virtio 9p overlay; do insmod /mods/$m.ko; done
o=trans=virtio,version=9p2000.L
mount -t 9p -o $o,ro,cache=loose hostroot /mnt/host || poweroff -f
mount -t 9p -o $o,ro mods /mnt/mods
mount -t tmpfs tmp /mnt/rw; mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay overlay -o lowerdir=/mnt/host,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work /newroot || poweroff -f
mkdir -p /newroot/lib/modules /newroot/vmout
mount --bind /mnt/mods /newroot/lib/modules
mount -t 9p -o $o out /newroot/vmout
if grep -q 'disnvme.init=systemd' /proc/cmdline; then
	# systemd as PID 1: a unit runs the scenario once boot is done, records its exit code and
	# powers off. Type=simple so that boot completes (is-system-running can be waited for).
	u=/newroot/etc/systemd/system
	mkdir -p $u/multi-user.target.wants
	cat >$u/disnvme-vm-scenario.service <<UNIT
[Unit]
Description=disnvme test-VM scenario
After=multi-user.target
[Service]
Type=simple
StandardOutput=file:/vmout/guest.log
StandardError=inherit
ExecStart=/bin/sh -c 'hostname testvm; ip link set lo up; cd /vmout; sh /vmout/.guest.sh; echo \$? >/vmout/guest.rc; sync; systemctl --no-block poweroff'
UNIT
	ln -sf ../disnvme-vm-scenario.service $u/multi-user.target.wants/
	ln -sf /lib/systemd/system/multi-user.target $u/default.target
	# nothing in the guest needs these, and some wait for hardware it does not have
	for m in getty@tty1 serial-getty@ttyS0 systemd-networkd-wait-online networking \
		systemd-timesyncd apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
		man-db.timer fstrim.timer cron ssh docker containerd postgresql; do
		ln -sf /dev/null $u/$m.service 2>/dev/null; ln -sf /dev/null $u/$m 2>/dev/null
	done
	: >/newroot/etc/fstab
	# keep the host's /tmp visible (a clone or build tree may live there): no tmpfs on /tmp and
	# no boot-time emptying of it by systemd-tmpfiles
	ln -sf /dev/null $u/tmp.mount
	mkdir -p /newroot/etc/tmpfiles.d
	echo "d /tmp 1777 root root -" >/newroot/etc/tmpfiles.d/tmp.conf
	exec switch_root /newroot /lib/systemd/systemd
fi
exec switch_root /newroot /bin/sh -c '
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
ln -sf /proc/self/fd /dev/fd; ln -sf /proc/self/fd/0 /dev/stdin; ln -sf /proc/self/fd/1 /dev/stdout; ln -sf /proc/self/fd/2 /dev/stderr
mount -t tmpfs tmpfs /run; hostname testvm; ip link set lo up
cd /vmout; sh /vmout/.guest.sh >/vmout/guest.log 2>&1; echo $? >/vmout/guest.rc; sync
echo o >/proc/sysrq-trigger; poweroff -f'
INIT
	chmod +x "$ird/init"
	(cd "$ird" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$VM_CACHE/initrd-v6.img.tmp")
	mv "$VM_CACHE/initrd-v6.img.tmp" "$VM_CACHE/initrd-v6.img"
	rm -rf "$ird"
}
