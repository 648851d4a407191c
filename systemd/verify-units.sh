#!/usr/bin/env bash
# systemd-analyze verify on the given unit files; fails on any message it prints (warnings
# included), since systemd loads a unit with a bad line anyway and only logs it.
#   verify-units.sh UNIT_FILE...
set -uo pipefail
command -v systemd-analyze >/dev/null || { echo "systemd-analyze is not installed" >&2; exit 1; }
for u in "$@"; do
	[[ -f $u ]] || { echo "no unit file $u" >&2; exit 1; }
	[[ ${u##*/} == *.service ]] || continue
	exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$u")
	[[ -x $exe ]] || { echo "$u: ExecStart=$exe is not built yet (build everything first)" >&2; exit 1; }
done
# --man=no: the Documentation= man pages need not be installed here
out=$(SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no "$@" 2>&1)
rc=$?
if [[ $rc -ne 0 || -n $out ]]; then
	printf '%s\n' "$out"
	echo "systemd-analyze verify: exit $rc, $(printf '%s' "$out" | grep -c '') line(s) of output" >&2
	exit 1
fi
echo "systemd-analyze verify: $# unit files clean"
