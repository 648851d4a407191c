# Helpers for the ublk scenarios and benchmarks (sourced after lib.sh, inside the guest).
DN_UBLK_FILE=$DISNVME_BUILD/host/dn-ublk-file

# ublk_file_start NAME [dn-ublk-file args...] FILE: serve FILE in the background; sets
# UBLK_PID and UBLK_DEV (/dev/ublkbN) once the device is ready. Output in NAME.out/.err.
ublk_file_start() {
	local name=$1 i
	shift
	UBLK_DEV=
	"$DN_UBLK_FILE" "$@" >"$name.out" 2>"$name.err" &
	UBLK_PID=$!
	on_exit "kill -TERM $UBLK_PID; wait $UBLK_PID"
	for i in $(seq 1 150); do
		UBLK_DEV=$(head -n1 "$name.out" 2>/dev/null)
		[[ -n $UBLK_DEV ]] && break
		if ! kill -0 "$UBLK_PID" 2>/dev/null; then
			log "dn-ublk-file exited: $(cat "$name.err")"
			return 1
		fi
		sleep 0.2
	done
	[[ -b $UBLK_DEV ]] || { log "no block device from dn-ublk-file: '$UBLK_DEV'"; return 1; }
	log "dn-ublk-file $* -> $UBLK_DEV (pid $UBLK_PID)"
}

# ublk_file_stop: SIGTERM, wait; fails unless the program exits 0 and its device nodes are gone
ublk_file_stop() {
	local n=${UBLK_DEV#/dev/ublkb} rc
	kill -TERM "$UBLK_PID" || return 1
	wait "$UBLK_PID"
	rc=$?
	[[ $rc == 0 ]] || { log "dn-ublk-file exit status $rc"; return 1; }
	[[ ! -e /dev/ublkb$n && ! -e /dev/ublkc$n && ! -e /sys/block/ublkb$n ]] ||
		{ log "ublk device $n still present after stop"; return 1; }
	! kill -0 "$UBLK_PID" 2>/dev/null
}

# range_is_zero FILE_OR_DEV OFFSET_MIB LEN_MIB (the guest has no /dev/fd: no <(...))
range_is_zero() {
	cmp -s -n $(($3 << 20)) -i $(($2 << 20)):0 "$1" /dev/zero
}
