#!/usr/bin/env bash
# Soak (run on demand, prints figures; not a test): random faults on the target side under
# load, for a while, in one test-VM run. disnvme-target exports two subsystems: the disnvme host
# (ublk) uses one, the Linux kernel host (nvme-rdma, in its own network namespace) the other,
# and each runs back-to-back fio crc32c random write + verify passes. Every 2-6 s one fault,
# picked at random, hits for a random 0.5-8.5 s:
#   kill   disnvme-target is SIGKILLed, then started again
#   term   disnvme-target is stopped with SIGTERM (it must exit 0), then started again
#   stop   disnvme-target is frozen (SIGSTOP) and thawed: past KATO (5 s) both hosts reset
#   addr   the target's address is removed from its interface, then put back
#   devrm  the target's RDMA device is removed (rdma link del), then added back
# During each fault a read is started on each host's device. It is held, and must complete
# within 60 s of the fault's end. (nvme-rdma makes its connections in the initial network
# namespace whatever namespace nvme-cli runs in, so the Linux host reaches 10.77.0.1 over the
# target's own rxe device too. It deletes a controller whose device goes away: for devrm it
# ends its fio loop, disconnects first and connects again after.)
# Not among the faults: the interface going down and up under live connections. After that
# no new connection to 10.77.0.1 completes in this VM, for the kernel's own pair as well
# (nvme-rdma's reconnect to nvmet-rdma stays in rdma_cm's CONNECT state for as long as we
# watched, 40 s, and `nvme disconnect` then hangs), so it tests rxe, not the targets. At the end every fio pass must have zero errors, both hosts
# must still be connected, neither the host daemon nor disnvme-target may have logged a
# sanitizer error, and disnvme-target must exit 0 on SIGTERM. Printed: each fault, and per kind
# how often it hit and the time from its end to each host's held read completing.
#
#   DISNVME_BUILD=<build dir> tests/bench/soak.sh [OUT_DIR]
# Environment: BENCH_SOAK_SECONDS (default 600), BENCH_SOAK_SEED (default: the time; printed,
# so that a run's sequence of faults can be repeated).
set -uo pipefail
if [[ ${DISNVME_OUT:-} != /vmout ]]; then
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	src=$(cd "$here/../.." && pwd)
	export DISNVME_BUILD=${DISNVME_BUILD:-$src/build}
	export BENCH_SOAK_SEED=${BENCH_SOAK_SEED:-$(date +%s)}
	export DISNVME_VM_TIMEOUT=${DISNVME_VM_TIMEOUT:-$((${BENCH_SOAK_SECONDS:-600} + 900))}
	out=${1:-$DISNVME_BUILD/bench-out/soak}
	"$src/tests/vm/run-vm.sh" "${BASH_SOURCE[0]}" "$out" >/dev/null 2>&1
	rc=$?
	[[ -f $out/soak.txt ]] && cat "$out/soak.txt"
	[[ $rc == 0 ]] || { echo "soak failed (exit $rc); logs in $out" >&2; tail -30 "$out/guest.log" >&2; }
	exit $rc
fi

. "$DISNVME_SRC/tests/vm/lib.sh"
. "$DISNVME_SRC/tests/vm/host_nvmf_helpers.sh"
SECS=${BENCH_SOAK_SECONDS:-600}
SEED=${BENCH_SOAK_SEED:-$(date +%s)}
RANDOM=$SEED
KINDS=(kill term stop addr devrm)
res=$DISNVME_OUT/soak.txt
faults=$DISNVME_OUT/faults.txt
: >"$faults"

host_scenario_setup nvme-rdma
nqn=nqn.2014-08.org.disnvme:soak
sparse_file 256M "$DATA/soak-dn.img" "$DATA/soak-k.img"
cat >soak.json <<JSON
{
  "ports": [ { "trtype": "rdma", "adrfam": "ipv4", "traddr": "$TGT_ADDR", "trsvcid": "$PORT" } ],
  "subsystems": [
    { "nqn": "$nqn-dn", "allow_any_host": true,
      "namespaces": [ { "nsid": 1, "path": "$DATA/soak-dn.img" } ] },
    { "nqn": "$nqn-k", "allow_any_host": true,
      "namespaces": [ { "nsid": 1, "path": "$DATA/soak-k.img" } ] } ]
}
JSON
tlog=$DISNVME_OUT/target.log
dlog=/run/disnvme/daemon.log
: >"$tlog"
dtgt_start "$tlog" --config soak.json
# a removal blocked by a process of ours would outlive the run: they go first on failure
on_exit "pkill -9 -x 'disnvme|disnvme-target'"

dev=$($DISNVME connect -t rdma -a $TGT_ADDR -n $nqn-dn -i 2 -k 5 -c 0.5 -l -1) ||
	fail "disnvme connect: $dev"
on_exit "$DISNVME disconnect-all"
khost_connect $nqn-k $TGT_ADDR --reconnect-delay=1 --ctrl-loss-tmo=-1
kdev=$(khost_ns_dev $nqn-k) || fail "no /dev/nvmeXnY for $nqn-k"
log "soak: $SECS s, seed $SEED; disnvme host on $dev, Linux host on $kdev"

# ---- the faults: down KIND / up KIND ----
again="listening on rdma $TGT_ADDR:$PORT (port 1) again"
fault_down() {
	case $1 in
	kill) kill -9 $DTGT_PID; wait $DTGT_PID 2>/dev/null; DTGT_PID= ;;
	term) dtgt_stop TERM || fail "disnvme-target exited with $? on SIGTERM" ;;
	stop) kill -STOP $DTGT_PID ;;
	addr) must ip addr del $TGT_ADDR/24 dev vt ;;
	devrm)
		fio_loop_stop k
		k_passes=$((k_passes + FIO_LOOP_PASSES))
		must nvme disconnect -n $nqn-k >/dev/null
		n_listen=$(log_count "$tlog" "$again")
		rxe_remove "$DISNVME_OUT/devrm-times.txt" >/dev/null
		;;
	esac
}
fault_up() {
	case $1 in
	kill | term) dtgt_start "$tlog" --config soak.json ;;
	stop) kill -CONT $DTGT_PID ;;
	addr) must ip addr add $TGT_ADDR/24 dev vt ;;
	devrm)
		rxe_add
		wait_log_more "$tlog" "$again" "$n_listen" 20 ||
			fail "the target does not listen again: $(tail -20 "$tlog")"
		khost_connect $nqn-k $TGT_ADDR --reconnect-delay=1 --ctrl-loss-tmo=-1
		kdev=$(khost_ns_dev $nqn-k) || fail "no /dev/nvmeXnY for $nqn-k after devrm"
		fio_loop_start "$kdev" k
		;;
	esac
}

# held_read_wait TAG T0_NS: wait for the probe read TAG (probe_start) started during a fault;
# HELD_MS is the ms from T0_NS (the fault's end) to its completion, failing after 60 s.
held_read_wait() {
	if ! probe_wait "$1" 60; then
		tail -20 $dlog; tail -20 "$tlog"; dmesg | tail -20
		fail "fault $n ($kind): the $1 host's held read did not complete within 60 s"
	fi
	HELD_MS=$(ms_between "$2" "$PROBE_END")
}

fio_loop_start "$dev" dn
fio_loop_start "$kdev" k
k_passes=0
end=$((SECONDS + SECS))
n=0
while ((SECONDS < end)); do
	sleep $((2 + RANDOM % 5))
	fio_loop_alive dn
	fio_loop_alive k
	n=$((n + 1))
	kind=${KINDS[RANDOM % ${#KINDS[@]}]}
	dur_ms=$((500 + RANDOM % 8001))
	t_down=$(date +%s%N)
	fault_down $kind
	sleep 0.3
	probe_start "$dev" dn
	[[ $kind == devrm ]] || probe_start "$kdev" k
	left=$((dur_ms - ($(date +%s%N) - t_down) / 1000000))
	((left > 0)) && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
	t0=$(date +%s%N)
	fault_up $kind
	held_read_wait dn "$t0"
	dn_ms=$HELD_MS
	k_ms=-
	[[ $kind == devrm ]] || { held_read_wait k "$t0" && k_ms=$HELD_MS; }
	printf 'fault %3d %-5s %5d ms: held read completed after %5d ms (disnvme host), %5s ms (Linux host)\n' \
		$n $kind $dur_ms "$dn_ms" "$k_ms" | tee -a "$faults"
done
sleep 5
fio_loop_stop dn
dn_passes=$FIO_LOOP_PASSES
fio_loop_stop k
k_passes=$((k_passes + FIO_LOOP_PASSES))
pass "$n faults: $dn_passes (disnvme host) and $k_passes (Linux host) fio write+verify passes, zero errors"

[[ $($DISNVME list -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["controllers"][0]["state"])') == live ]] ||
	fail "the disnvme host's controller is not live after the soak"
must $DISNVME disconnect -n $nqn-dn
[[ ! -e $dev ]] || fail "$dev left after disconnect"
must in_host nvme disconnect -n $nqn-k
dtgt_stop TERM || fail "disnvme-target exited with $? on SIGTERM"
host_daemon_log_clean
grep -E "ERROR: (Address|Leak|Thread)Sanitizer|runtime error" "$tlog" && fail "target sanitizer error"
{
	printf 'soak: %d s, seed %s, %d faults; fio write+verify passes with zero errors: %d (disnvme host), %d (Linux host)\n' \
		"$SECS" "$SEED" "$n" "$dn_passes" "$k_passes"
	python3 - "$faults" <<'PY'
import collections, re, statistics, sys
rows = collections.defaultdict(list)
for m in re.finditer(r"fault +\d+ (\w+) +(\d+) ms: held read completed after +(\d+) ms .*?, +(\S+) ms",
                     open(sys.argv[1]).read()):
    rows[m.group(1)].append((int(m.group(3)), m.group(4)))
def fig(v):
    return f"{statistics.median(v):7.0f} / {max(v):6}" if v else f"{'-':>7} / {'-':>6}"
print("fault  count  fault's end -> held read done, median / max ms: disnvme host | Linux host")
for kind, r in sorted(rows.items()):
    print(f"{kind:6} {len(r):5}  {fig([x[0] for x in r])} | "
          f"{fig([int(x[1]) for x in r if x[1] != '-'])}")
PY
	cat "$faults"
} >"$res"
cat "$res"
