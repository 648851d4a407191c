#!/usr/bin/env bash
# Unit test of tests/bench/stats.sh: the figures the benchmarks print are exact.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../../bench/stats.sh"
failed=0
check() { # NAME GOT WANT
	if [[ $2 != "$3" ]]; then
		echo "FAIL $1: got '$2', want '$3'"
		failed=1
	fi
}
check median-odd "$(echo 3 1 2 | median)" 2
check median-even "$(echo 4 1 3 2 | median)" 2.5
check ratio "$(ratio 3 4)" 0.75
check ratio-zero "$(ratio 3 0)" n/a
check max "$(echo 2 10 9 | max)" 10
check round-ratios "$(round_ratios "1 3 5" "2 3 4")" "0.500 1.000 1.250 "
# P(X <= 1), X ~ Bin(10, 1/2) = 11/1024; P(X <= 10) = 1
check binom "$(binom_cdf 10 1)" 0.010742
check binom-all "$(binom_cdf 10 10)" 1.000000
# n = 10: [x(2), x(9)] covers 1 - 2 * 11/1024 = 97.9%; [x(3), x(8)] only 89.1%
check ci-10 "$(echo 10 9 8 7 6 5 4 3 2 1 | median_ci 90)" "2 9 97.9%"
check ci-10-80 "$(echo 10 9 8 7 6 5 4 3 2 1 | median_ci 80)" "3 8 89.1%"
# n = 4: the widest interval covers 1 - 2/16 = 87.5% < 90%
check ci-few "$(echo 1 2 3 4 | median_ci 90)" n/a
# 1 above, 9 below: p = 2 * 11/1024
check sign "$(echo 1.1 .9 .9 .9 .9 .9 .9 .9 .9 .9 | sign_test 1)" "1 9 0.021"
check sign-tie "$(echo 1 1.2 0.8 | sign_test 1)" "1 1 1.000"
check sign-all-above "$(echo 1.1 1.2 1.3 1.4 1.5 1.6 | sign_test 1)" "6 0 0.031"
check summary "$(ratio_summary "8 9 11 7 8.5 9 9.5 9.9 8.8 7.7" "10 10 10 10 10 10 10 10 10 10")" \
	"0.89 (97.9% CI 0.77-0.99; 1 of 10 rounds above 1.0, sign test p=0.021)"
check summary-few "$(ratio_summary "2 1" "1 1")" \
	"1.50 (too few rounds for a 90% CI; 1 of 2 rounds above 1.0, sign test p=1.000)"
check round-diffs "$(round_diffs "5 3 1.5" "2 3 2")" "3.000 0.000 -0.500 "
check diff-summary "$(round_summary "1.5 2 -0.5 3 2.5 1 4 2 3 1.5" 0 1)" \
	"2.0 (97.9% CI 1.0-3.0; 9 of 10 rounds above 0, sign test p=0.021)"
# /proc/stat: busy = user nice system irq softirq steal, total adds idle and iowait
stat=$(mktemp)
trap 'rm -f "$stat"' EXIT
printf 'cpu  100 5 50 800 20 3 2 1 7 0\ncpu0 50 2 25 400 10 1 1 0 3 0\n' >"$stat"
check cpu-sample "$(cpu_sample "$stat")" "161 981"
# half of 2 CPUs busy at 10000 IOPS: 100 us of CPU per I/O
check cpu-per-io "$(cpu_per_io "100 1000" "600 2000" 2 10000)" 100.0
check cpu-per-io-none "$(cpu_per_io "100 1000" "100 1000" 2 10000)" n/a
exit $failed
