#!/usr/bin/env bash
# Fails when any C file of the project differs from what clang-format (.clang-format, kernel
# style) makes of it; prints the files. Fix with: clang-format -i FILE.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
command -v clang-format >/dev/null || { echo "clang-format not installed" >&2; exit 1; }
bad=0
while IFS= read -r f; do
	[[ -f $f ]] || continue
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "not formatted: $f"
		bad=1
	fi
done < <(git ls-files '*.c' '*.h' 2>/dev/null || find common target host discovery tests -name '*.[ch]')
exit $bad
