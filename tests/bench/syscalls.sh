# System calls per I/O for the benchmarks (sourced, in the test VM): what one process asks of
# the kernel for each I/O a block device completes. Needs perf and tracefs; prints nothing
# without them.

# count_syscalls PID DEV CSV CMD...: run CMD (an I/O job on DEV, 6 s or longer) in the
# background; from 2 s into it, count PID's system calls for 3 s (all, and the ones the I/O
# paths make: io_uring_enter, read, write, ioctl); print "all X  io_uring_enter Y ..." per I/O
# DEV completed meanwhile. perf slows what it counts, so these are counts, not speeds.
count_syscalls() {
	local pid=$1 dev=$2 csv=$3 cmd_pid st0 st1 n=0
	shift 3
	"$@" >/dev/null &
	cmd_pid=$!
	sleep 2
	if command -v perf >/dev/null && { mountpoint -q /sys/kernel/tracing ||
		mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; }; then
		st0=$(awk '{print $1 + $5}' "/sys/block/$(basename "$dev")/stat")
		perf stat -x, -o "$csv" -e raw_syscalls:sys_enter \
			-e syscalls:sys_enter_io_uring_enter -e syscalls:sys_enter_read \
			-e syscalls:sys_enter_write -e syscalls:sys_enter_ioctl \
			-p "$pid" -- sleep 3 >/dev/null 2>&1 &&
			st1=$(awk '{print $1 + $5}' "/sys/block/$(basename "$dev")/stat") &&
			n=$((st1 - st0))
	fi
	wait "$cmd_pid"
	((n > 0)) || return 0
	awk -F, -v n=$n '$3 ~ /sys_enter/ {
		name = $3; sub(/.*:sys_enter_?/, "", name)
		printf "%s %.2f  ", (name == "" ? "all" : name), $1 / n }' "$csv"
}
