#!/usr/bin/env bash
# The full test suite: installs what is missing, builds with -Werror and ASan+UBSan, runs the
# libFuzzer targets for a bounded time (clang build), then one ctest run with every test:
# unit tests, lint checks and the test-VM scenarios against the real kernel peers.
#
#   sudo tests/run-tests.sh            (README's second command; .ci/run calls it)
# Environment: DISNVME_CI_BUILD (build dir, default build-ci), DISNVME_FUZZ_SECONDS (default 20),
# CTEST_ARGS (extra ctest arguments, e.g. "-L unit").
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$src"
build=${DISNVME_CI_BUILD:-$src/build-ci}
fuzz_build=$build-fuzz
jobs=$(nproc)
t0=$(date +%s)

bash tests/install-deps.sh

echo "=== build (gcc, -Werror, ASan+UBSan): $build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDISNVME_WERROR=ON \
	-DDISNVME_SANITIZE=ON >"$build.cmake.log" 2>&1 || { cat "$build.cmake.log"; exit 1; }
cmake --build "$build" -j"$jobs"

if [[ -f tests/fuzz/CMakeLists.txt ]] && grep -q '^disnvme_fuzz(' tests/fuzz/CMakeLists.txt; then
	echo "=== fuzz targets (clang, libFuzzer, ${DISNVME_FUZZ_SECONDS:-20} s each): $fuzz_build"
	CC=clang cmake -S . -B "$fuzz_build" -DDISNVME_FUZZ=ON -DDISNVME_SANITIZE=ON \
		-DDISNVME_FUZZ_SECONDS="${DISNVME_FUZZ_SECONDS:-20}" >"$fuzz_build.cmake.log" 2>&1 ||
		{ cat "$fuzz_build.cmake.log"; exit 1; }
	cmake --build "$fuzz_build" -j"$jobs"
	(cd "$fuzz_build" && ctest -L fuzz --output-on-failure)
fi

echo "=== tests (unit, lint, test VM)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# A test that fails is run once more (the VM runs under an emulator whose timing varies with the
# machine's load); every test that needed that second run is listed below, never hidden.
set +e
(cd "$build" && ctest --output-on-failure --repeat until-pass:2 ${CTEST_ARGS:-}) 2>&1 |
	tee "$build/ctest.log"
rc=${PIPESTATUS[0]}
set -e

# ThreadSanitizer: the unit programs, and the scenarios where the daemon's or the target's
# threads share state, run again with a TSan build (a data race is reported in their output or
# logs and fails them). No second try here: a race seen once is a race.
tsan_build=$build-tsan
echo "=== build (gcc, ThreadSanitizer) and threaded test-VM scenarios: $tsan_build"
cmake -S . -B "$tsan_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDISNVME_WERROR=ON \
	-DDISNVME_TSAN=ON >"$tsan_build.cmake.log" 2>&1 || { cat "$tsan_build.cmake.log"; exit 1; }
cmake --build "$tsan_build" -j"$jobs"
set +e
(cd "$tsan_build" && ctest -L tsan --output-on-failure) 2>&1 |
	tee "$tsan_build/ctest.log"
trc=${PIPESTATUS[0]}
set -e
[[ $rc != 0 ]] || rc=$trc
flaky=$(cat "$build/ctest.log" "$tsan_build/ctest.log" |
	grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*(Failed|Timeout)' |
	sed -E 's/.*Test +#[0-9]+: ([^ ]+) .*/\1/' | sort -u || true)
if [[ -n $flaky ]]; then
	echo "=== run-tests: tests that failed at least once (each was run a second time):"
	echo "$flaky" | sed 's/^/    /'
fi
echo "=== run-tests: wall time $(( $(date +%s) - t0 )) s, exit $rc"
# ctest's own summary, restated as the last line
for log in "$build/ctest.log" "$tsan_build/ctest.log"; do
	sed -nE 's/^[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+)$/\2 \1/p' "$log" |
		tail -1
done | awk '{ t += $1; f += $2 } END { printf "ctest: %d passed, %d failed\n", t - f, f }'
exit $rc
