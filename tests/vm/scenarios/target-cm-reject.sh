#!/usr/bin/env bash
# NVMe/RDMA CM private data checks end to end (issue 3, "reject with the right reason on bad
# qid/queue sizes"): dn-cm-probe sends connect requests with crafted private data to
# disnvme-target, which must answer each with the exact NVMe/RDMA reject status (or accept a
# well-formed one), and then to the kernel's nvmet-rdma target, whose answers are printed
# next to ours. They must agree where the kernel checks the field as the spec has it (record
# format, admin queue size) and on accepting well-formed requests; elsewhere nvmet checks
# nothing at CM time (qid and I/O queue sizes), so its answer is shown, not judged.
# Over RoCE the CM pads private data with zeros to 56 bytes: a short request reaches the
# target as one whose missing fields are 0 (the "too short" status itself is unit-tested).
. "$DISNVME_SRC/tests/vm/lib.sh"

PROBE=$DISNVME_BUILD/tests/tools/dn-cm-probe
[[ -x $PROBE ]] || fail "$PROBE not built"
nqn=nqn.2014-08.org.disnvme:cm-reject

# name | probe options | disnvme-target's answer | kernel must agree (yes/no)
cases=(
	"admin-valid|--qid 0 --hsqsize 31 --hrqsize 32|accepted: crqsize 32|yes"
	"io-valid|--qid 1 --hsqsize 127 --hrqsize 128|accepted: crqsize 128|yes"
	"io-largest-qid|--qid 64 --hsqsize 1 --hrqsize 2|accepted: crqsize 2|yes"
	"hrqsize-larger-than-needed|--qid 1 --hsqsize 31 --hrqsize 4096|accepted: crqsize 32|no"
	"bad-recfmt|--recfmt 1|rejected: status 2 (invalid record format)|yes"
	"qid-beyond-max|--qid 65 --hsqsize 31 --hrqsize 32|rejected: status 3 (invalid queue ID)|no"
	"qid-ffff|--qid 65535 --hsqsize 31 --hrqsize 32|rejected: status 3 (invalid queue ID)|no"
	"hsqsize-zero|--qid 1 --hsqsize 0 --hrqsize 1|rejected: status 4 (invalid host send queue size)|no"
	"io-hsqsize-too-large|--qid 1 --hsqsize 128 --hrqsize 129|rejected: status 4 (invalid host send queue size)|no"
	"admin-hsqsize-too-large|--qid 0 --hsqsize 32 --hrqsize 33|rejected: status 4 (invalid host send queue size)|yes"
	"hsqsize-ffff|--qid 1 --hsqsize 65535 --hrqsize 65535|rejected: status 4 (invalid host send queue size)|no"
	"hrqsize-zero|--qid 1 --hsqsize 31 --hrqsize 0|rejected: status 5 (invalid host receive queue size)|no"
	"hsqsize-equals-hrqsize|--qid 1 --hsqsize 31 --hrqsize 31|rejected: status 5 (invalid host receive queue size)|no"
	"hsqsize-above-hrqsize|--qid 0 --hsqsize 31 --hrqsize 16|rejected: status 5 (invalid host receive queue size)|no"
	"short-recfmt-only|--len 2 --qid 1 --hsqsize 31 --hrqsize 32|rejected: status 4 (invalid host send queue size)|no"
	"short-empty|--len 0|rejected: status 4 (invalid host send queue size)|no"
)

topo_up
data_dir
backing=$DATA/cm-reject.img
sparse_file 16M "$backing"
tlog=$DISNVME_OUT/target.log
: >"$tlog"

# probe_all LABEL: runs every case, answers in $DISNVME_OUT/LABEL.txt as "name|answer"
probe_all() {
	local label=$1 c name opts out
	: >"$DISNVME_OUT/$label.txt"
	for c in "${cases[@]}"; do
		IFS='|' read -r name opts _ _ <<<"$c"
		# shellcheck disable=SC2086 # opts are words
		out=$("$PROBE" --timeout 20 $opts $TGT_ADDR $PORT 2>&1 | tail -1)
		printf '%s|%s\n' "$name" "$out" >>"$DISNVME_OUT/$label.txt"
	done
}
answer() { grep "^$2|" "$DISNVME_OUT/$1.txt" | cut -d'|' -f2-; }

dtgt_start "$tlog" -t rdma -a $TGT_ADDR -s $PORT -n $nqn --ns "$backing"
probe_all disnvme
# every connection accepted or refused: the target still serves (and drained the accepted)
"$PROBE" --timeout 20 $TGT_ADDR $PORT | grep -q '^accepted' || fail "disnvme-target stopped accepting"
dtgt_stop TERM || fail "disnvme-target exited $? on SIGTERM"

knvmet_up $nqn "$backing"
probe_all kernel
knvmet_down

errors=0
rejects=0
printf '%-28s %-54s %s\n' case disnvme-target nvmet-rdma
for c in "${cases[@]}"; do
	IFS='|' read -r name opts want agree <<<"$c"
	ours=$(answer disnvme "$name")
	theirs=$(answer kernel "$name")
	printf '%-28s %-54s %s\n' "$name" "$ours" "$theirs"
	[[ $want == rejected* ]] && rejects=$((rejects + 1))
	if [[ $ours != "$want" ]]; then
		log "MISMATCH $name ($opts): disnvme-target said '$ours', expected '$want'"
		errors=$((errors + 1))
	fi
	if [[ $agree == yes && $theirs != "$ours" ]]; then
		# crqsize may legitimately differ; an accept must stay an accept
		if [[ $want == accepted* && $theirs == accepted* ]]; then
			continue
		fi
		log "MISMATCH $name ($opts): nvmet-rdma said '$theirs', disnvme-target '$ours'"
		errors=$((errors + 1))
	fi
done
((errors == 0)) || { cat "$tlog"; fail "$errors answers differ from the expected ones"; }
logged=$(grep -c 'refusing connection from' "$tlog")
((logged == rejects)) ||
	{ cat "$tlog"; fail "disnvme-target logged $logged refusals for $rejects rejected requests"; }
pass "${#cases[@]} CM requests answered as expected; $rejects refusals logged, e.g.: $(grep -m1 'refusing connection from' "$tlog")"
