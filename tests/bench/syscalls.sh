# System calls per I/O for the benchmarks (sourced, in the test VM): what one process asks of
# the kernel for each I/O a block device completes. Needs perf and tracefs; prints nothing
# without them.

# count_syscalls PID DEV SECONDS CSV: while I/O runs on DEV, count PID's system calls (all, and
# the ones the I/O paths make: io_uring_enter, read, write, ioctl) for SECONDS; print
# "all X  io_uring_enter Y ..." per I/O DEV completed meanwhile. perf slows what it counts, so
# these are counts, not speeds.
count_syscalls() {
	local pid=$1 dev=$2 secs=$3 csv=$4 st0 st1
	command -v perf >/dev/null || return 0
	mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null ||
		return 0
	st0=$(awk '{print $1 + $5}' "/sys/block/$(basename "$dev")/stat")
	perf stat -x, -o "$csv" -e raw_syscalls:sys_enter -e syscalls:sys_enter_io_uring_enter \
		-e syscalls:sys_enter_read -e syscalls:sys_enter_write -e syscalls:sys_enter_ioctl \
		-p "$pid" -- sleep "$secs" >/dev/null 2>&1 || return 0
	st1=$(awk '{print $1 + $5}' "/sys/block/$(basename "$dev")/stat")
	awk -F, -v n=$((st1 - st0)) 'n > 0 && $3 ~ /sys_enter/ {
		name = $3; sub(/.*:sys_enter_?/, "", name)
		printf "%s %.2f  ", (name == "" ? "all" : name), $1 / n }' "$csv"
}
