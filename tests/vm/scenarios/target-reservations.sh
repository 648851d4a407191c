#!/usr/bin/env bash
# Reservations on a disnvme-target namespace shared by two Linux kernel hosts (netns hst and
# hst2, their own host NQNs and host IDs): what a shared-disk cluster uses to fence a node.
# Driven twice by peers nobody here wrote: nvme-cli's resv-* commands (Reservation Register,
# Acquire, Release, Report and the notification log page), then the kernel's block-layer
# persistent reservation ioctls (IOC_PR_*), which build their own commands (the register asks
# for persistence through power loss, CPTPL 11b).
. "$DISNVME_SRC/tests/vm/lib.sh"

nqn=nqn.2014-08.org.disnvme:resv
h1=nqn.2014-08.org.disnvme:node-one
h2=nqn.2014-08.org.disnvme:node-two
backing=$DATA/resv.img
# the namespace keeps its reservations through a restart (Persist Through Power Loss)
ptpl=$DATA/resv.ptpl.json
TWO_HOSTS_NS_EXTRA=", \"ptpl_file\": \"$ptpl\""
two_khosts_up $nqn $h1 $h2 "$backing" 64M
tlog=$TLOG d1=$KDEV1 d2=$KDEV2 c1=$KCTRL1
log "node one: $d1 ($c1), node two: $d2"

json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
oncs=$(nvme id-ctrl "$d1" -o json | json_field oncs) || fail "id-ctrl"
rescap=$(nvme id-ns "$d1" -o json | json_field rescap) || fail "id-ns"
(( oncs & 0x20 )) || fail "Identify Controller ONCS $oncs: no reservations"
[[ $rescap == 255 ]] || fail "Identify Namespace RESCAP $rescap, expected 0xff"
pass "ONCS advertises reservations, RESCAP 0xff (all six types, IEKEY, PTPL with a ptpl_file)"

# One 4 KiB block through a node's device: stamp writes the node's name and the block number,
# the reads check what a block holds. Direct I/O, so the answer is the target's.
stamp() { printf '%-4096s' "$1 block $2" | dd of="$3" bs=4k seek="$2" oflag=direct status=none 2>/dev/null; }
holds() { [[ $(dd if="$3" bs=4k skip="$2" count=1 iflag=direct status=none 2>/dev/null | tr -d ' ') == "$1block$2" ]]; }
can_read() { dd if="$1" of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null; }
report() { nvme resv-report "$1" -n 1 --eds -o json; }
# report_is DEV RTYPE NREGS [PTPLS]: the Reservation Report as the node sees it
report_is() {
	local r
	r=$(report "$1") || fail "resv-report on $1"
	python3 - "$2" "$3" "${4:-}" "$r" <<'PY' || fail "reservation report on $1: $r"
import json, sys
r = json.loads(sys.argv[4])
assert r["rtype"] == int(sys.argv[1]), r["rtype"]
assert r["regctl"] == int(sys.argv[2]), r["regctl"]
assert not sys.argv[3] or r["ptpls"] == int(sys.argv[3]), r["ptpls"]
PY
}
resv_gen() { report "$1" | json_field gen; }

stamp one 1 "$d1" && stamp two 2 "$d2" || fail "writes before any reservation"
report_is "$d1" 0 0

# -- nvme-cli: register both nodes, node one takes Write Exclusive
nvme resv-register "$d1" -n 1 --nrkey=0xa1 --rrega=0 >/dev/null || fail "node one: register"
nvme resv-register "$d2" -n 1 --nrkey=0xb2 --rrega=0 >/dev/null || fail "node two: register"
out=$(nvme resv-register "$d2" -n 1 --nrkey=0xbb --rrega=0 2>&1) &&
	fail "node two registered a second key: $out"
grep -qi "conflict" <<<"$out" || fail "second key refused without Reservation Conflict: $out"
g0=$(resv_gen "$d1")
nvme resv-acquire "$d1" -n 1 --crkey=0xa1 --rtype=1 --racqa=0 >/dev/null || fail "node one: acquire WE"
report_is "$d2" 1 2
[[ $(resv_gen "$d2") == "$g0" ]] || fail "generation changed on a plain acquire"
stamp one 3 "$d1" || fail "the holder cannot write"
stamp two 1 "$d2" && fail "node two wrote under node one's Write Exclusive reservation"
holds one 1 "$d1" || fail "node two's refused write changed the block"
can_read "$d2" || fail "node two cannot read under Write Exclusive"
pass "Write Exclusive: holder writes, the other registrant reads and is refused writes (block unchanged)"

# node two fences node one: preempt with node one's key, take Write Exclusive - Registrants Only
nvme resv-acquire "$d2" -n 1 --crkey=0xb2 --prkey=0xa1 --rtype=3 --racqa=1 >/dev/null ||
	fail "node two: preempt"
report_is "$d1" 3 1
(( $(resv_gen "$d1") > g0 )) || fail "generation did not move on a preempt"
stamp one 4 "$d1" && fail "node one wrote after being preempted"
can_read "$d1" || fail "the fenced node cannot read under WERO"
stamp two 4 "$d2" || fail "node two cannot write after preempting"
holds two 4 "$d1" || fail "block 4 does not hold node two's write"
# node one's controller was told: Reservation Notification log page, Registration Preempted
nvme get-log "$c1" --log-id=0x80 --log-len=64 -b >rnlog.bin || fail "get-log 0x80 on $c1"
python3 - rnlog.bin <<'PY' || fail "reservation notification log: $(od -An -tx1 rnlog.bin | head -2)"
import struct, sys
lpc, rnlpt, nalp, nsid = struct.unpack_from("<QBBxxI", open(sys.argv[1], "rb").read())
assert lpc >= 1 and rnlpt == 1 and nsid == 1, (lpc, rnlpt, nsid)
PY
pass "node two preempted node one: fenced (writes refused, reads allowed), told through log page 0x80"

# node one registers again: under WERO a registrant writes
nvme resv-register "$d1" -n 1 --nrkey=0xa3 --rrega=0 >/dev/null || fail "node one: register again"
stamp one 5 "$d1" || fail "a registrant cannot write under WERO"
out=$(nvme resv-release "$d1" -n 1 --crkey=0xa3 --rtype=1 --rrela=0 2>&1) ||
	fail "release by a non-holder must succeed with no effect: $out"
report_is "$d1" 3 2
nvme resv-release "$d2" -n 1 --crkey=0xb2 --rtype=3 --rrela=1 >/dev/null || fail "node two: clear"
report_is "$d1" 0 0
stamp one 6 "$d1" && stamp two 7 "$d2" || fail "writes after clear"
pass "re-registered node writes under WERO; clear leaves no registrant and no reservation"

# -- the kernel's block-layer persistent reservation ioctls, as cluster software calls them
python3 - "$d1" "$d2" "$backing" <<'PY' || fail "block-layer PR ioctls"
import fcntl, mmap, os, struct, sys, threading, time

def iow(nr, size):
    return 1 << 30 | size << 16 | ord("p") << 8 | nr

REGISTER, RESERVE, RELEASE, PREEMPT, PREEMPT_ABORT, CLEAR = (
    iow(200, 24), iow(201, 16), iow(202, 16), iow(203, 24), iow(204, 24), iow(205, 16))
CONFLICT = 0x18  # PR_STS_RESERVATION_CONFLICT
EA, WE = 2, 1

def pr(dev, req, fmt, *args):
    fd = os.open(dev, os.O_RDWR)
    try:
        return fcntl.ioctl(fd, req, bytearray(struct.pack(fmt, *args)), True)
    finally:
        os.close(fd)

def register(dev, old, new): return pr(dev, REGISTER, "<QQII", old, new, 0, 0)
def reserve(dev, key, t): return pr(dev, RESERVE, "<QII", key, t, 0)
def release(dev, key, t): return pr(dev, RELEASE, "<QII", key, t, 0)
def preempt(dev, key, victim, t): return pr(dev, PREEMPT, "<QQII", key, victim, t, 0)
def preempt_abort(dev, key, victim, t): return pr(dev, PREEMPT_ABORT, "<QQII", key, victim, t, 0)
def clear(dev, key): return pr(dev, CLEAR, "<QII", key, 0, 0)

def io(dev, write):
    """4 KiB of direct I/O at 8 MiB: True when the target allowed it."""
    buf = mmap.mmap(-1, 4096)  # page aligned, as O_DIRECT wants
    fd = os.open(dev, (os.O_RDWR if write else os.O_RDONLY) | os.O_DIRECT)
    try:
        return (os.pwritev(fd, [buf], 8 << 20) if write else os.preadv(fd, [buf], 8 << 20)) == 4096
    except OSError:
        return False
    finally:
        os.close(fd)

one, two, backing = sys.argv[1], sys.argv[2], sys.argv[3]
assert register(one, 0, 0x1111) == 0, "register node one (CPTPL 11b, as the kernel sends it)"
assert register(two, 0, 0x2222) == 0, "register node two"
assert register(one, 0x1111, 0x1112) == 0, "replace node one's key"
assert reserve(one, 0x1112, EA) == 0, "node one: Exclusive Access"
assert io(one, True) and io(one, False), "the holder's I/O"
assert not io(two, False) and not io(two, True), "Exclusive Access let node two in"
assert reserve(two, 0x2222, EA) == CONFLICT, "node two reserved a held namespace"
assert release(two, 0x2222, EA) == 0, "a non-holder's release is a no-op"
assert preempt(two, 0x2222, 0x1112, WE) == 0, "node two preempts node one"
assert io(two, True), "node two after preempting"
assert io(one, False) and not io(one, True), "node one under node two's Write Exclusive"
assert register(one, 0x1112, 0x1113) == CONFLICT, "the preempted key still worked"
assert release(two, 0x2222, WE) == 0 and io(one, True), "release opens the namespace again"

# Preempt and Abort while node one writes without pause (a new sequence number in block 4096
# each time): once the acquire completes, no write of node one's may land, so the block the
# target holds then is the last one.
assert register(one, 0, 0x1114) == 0 and reserve(one, 0x1114, WE) == 0, "node one again"
stop = threading.Event()
ok = [0]

def writer():
    buf = mmap.mmap(-1, 4096)
    fd = os.open(one, os.O_RDWR | os.O_DIRECT)
    seq = 0
    while not stop.is_set():
        seq += 1
        buf[:8] = struct.pack("<Q", seq)
        try:
            os.pwritev(fd, [buf], 4096 * 4096)
            ok[0] += 1
        except OSError:
            pass
    os.close(fd)

def target_block():
    with open(backing, "rb") as f:
        f.seek(4096 * 4096)
        return f.read(4096)

t = threading.Thread(target=writer)
t.start()
time.sleep(1)
before = ok[0]
assert preempt_abort(two, 0x2222, 0x1114, EA) == 0, "node two: preempt and abort"
landed = target_block()
time.sleep(1)
stop.set()
t.join()
assert before > 0, "node one's writes did not run"
assert target_block() == landed, "a write of node one's landed after the Preempt and Abort"
assert not io(one, True) and not io(one, False), "node one after Preempt and Abort (EA)"
assert clear(two, 0x2222) == 0, "clear"
print(f"node one wrote {before} blocks in 1 s before the Preempt and Abort")
PY
pass "block-layer IOC_PR_* (register/replace, reserve EA, preempt to WE, release, preempt and abort under writes, clear) as the kernel sends them"

# -- the reservations outlive a restart of the target (ptpl_file): a fenced node stays fenced
nvme resv-register "$d1" -n 1 --nrkey=0xc1 --rrega=0 --cptpl=3 >/dev/null ||
	fail "node one: register, persist through power loss"
nvme resv-register "$d2" -n 1 --nrkey=0xc2 --rrega=0 >/dev/null || fail "node two: register"
nvme resv-acquire "$d1" -n 1 --crkey=0xc1 --rtype=1 --racqa=0 >/dev/null || fail "node one: WE"
report_is "$d2" 1 2 1
g0=$(resv_gen "$d2")
dtgt_stop TERM || fail "disnvme-target exited $? on SIGTERM"
dtgt_start "$tlog" --config two-hosts.json
for i in $(seq 1 60); do
	report "$d1" >/dev/null 2>&1 && report "$d2" >/dev/null 2>&1 && break
	sleep 0.5
done
report_is "$d2" 1 2 1
[[ $(resv_gen "$d2") == "$g0" ]] || fail "the generation changed across the restart"
grep -q "2 registrants and reservation type 1 kept in $ptpl" "$tlog" || fail "no log line of what was kept"
stamp two 6 "$d2" && fail "node two wrote after the restart: the reservation was lost"
stamp one 6 "$d1" && holds one 6 "$d2" || fail "the holder after the restart"
pass "registrations and Write Exclusive kept across a target restart (PTPLS 1): node two still refused"

# -- and across a configuration reload that re-creates the namespace (here: its path is now
# another name of the same file; same ptpl_file): the new namespace takes the fence over.
# Persistence off first (Set Features 83h), so the file no longer holds the fence and only
# the hand-over from the old namespace object can keep it.
nvme set-feature "$d1" -n 1 -f 0x83 -v 0 >/dev/null || fail "set-feature 83h (persistence off)"
report_is "$d2" 1 2 0
ln -s "$backing" "$DATA/resv-alias.img" || fail "ln -s"
sed -i "s|\"path\": \"$backing\"|\"path\": \"$DATA/resv-alias.img\"|" two-hosts.json
grep -q resv-alias two-hosts.json || fail "config not rewritten"
kept="namespace 1 of $nqn replaced (was $backing): registrations and reservation kept"
kill -HUP $DTGT_PID
wait_log_more "$tlog" "$kept" 0 20 ||
	fail "no reload that kept the reservations: $(tail -5 "$tlog")"
report_is "$d2" 1 2 0
[[ $(resv_gen "$d2") == "$g0" ]] || fail "the generation changed across the reload"
stamp two 7 "$d2" && fail "node two wrote after the reload: the reservation was lost"
stamp one 7 "$d1" && holds one 7 "$d2" || fail "the holder after the reload"
nvme resv-release "$d1" -n 1 --crkey=0xc1 --rtype=1 --rrela=1 >/dev/null || fail "clear"
stamp two 7 "$d2" && holds two 7 "$d1" || fail "node two after the clear"
pass "and across a reload that re-created the namespace: node two refused until the clear"

# a refused command is the reservation working: the target does not log each one as an error
grep -qi "reservation conflict" "$tlog" && fail "target logged reservation conflicts as errors"
dtgt_stop TERM || fail "disnvme-target exited $? on SIGTERM"
pass "clean exit"
