# The benchmarks' fio job (sourced after stats.sh, inside the guest).

# fio_job NAME TARGET RW BS QD -> "IOPS KiB/s CPU_US_PER_IO": one job of RUNTIME seconds
# (default 6) after a 1 s ramp, direct I/O, engine FIO_ENGINE (default io_uring). Terse v3
# output in NAME.terse (read bandwidth field 7, IOPS field 8); the CPU figure is the guest's
# CPU time per I/O over the whole job, ramp included (stats.sh: cpu_per_io).
fio_job() {
	local s0 s1 iops kib
	s0=$(cpu_sample)
	fio --name="$1" --filename="$2" --rw="$3" --bs="$4" --iodepth="$5" \
		--ioengine="${FIO_ENGINE:-io_uring}" --direct=1 --size=512M --time_based \
		--runtime="${RUNTIME:-6}" --ramp_time=1 --numjobs=1 --group_reporting \
		--output-format=terse --terse-version=3 >"$1.terse" 2>"$1.err" ||
		{ log "fio $1 failed: $(cat "$1.err")" >&2; return 1; }
	s1=$(cpu_sample)
	read -r iops kib <<<"$(awk -F';' '{ printf "%d %d", $8, $7 }' "$1.terse")"
	echo "$iops $kib $(cpu_per_io "$s0" "$s1" "$(nproc)" "$iops")"
}
