# Figures for the benchmarks (sourced): medians and per-round ratios of lists of numbers.

# median: the median of the numbers on stdin (separated by spaces or newlines); of an even
# count, the mean of the middle two
median() {
	tr ' ' '\n' | grep . | sort -g |
		awk '{ v[NR] = $1 } END { m = int((NR + 1) / 2); print (NR % 2) ? v[m] : (v[m] + v[m + 1]) / 2 }'
}

# ratio A B: A/B with two decimals ("n/a" when B is not positive)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# max: the largest of the numbers on stdin
max() { tr ' ' '\n' | grep . | sort -g | tail -1; }

# round_ratios "A1 A2 .." "B1 B2 ..": A_i/B_i of each round, space separated. Two sides measured
# back to back in a round share the machine's load of that moment, so these ratios are steadier
# than the ratio of two medians.
round_ratios() {
	paste <(echo $1 | tr ' ' '\n') <(echo $2 | tr ' ' '\n') |
		awk '$2 > 0 { printf "%.3f ", $1 / $2 }'
}

# binom_cdf N K: P(X <= K) for X ~ Binomial(N, 1/2)
binom_cdf() {
	awk -v n="$1" -v k="$2" 'BEGIN {
		c = 1; s = 0
		for (i = 0; i <= k && i <= n; i++) { s += c; c = c * (n - i) / (i + 1) }
		printf "%.6f", s / 2 ^ n }'
}

# median_ci LEVEL: a distribution-free confidence interval for the median of the numbers on
# stdin (order statistics, from the sign test): "LO HI COVERAGE%", the narrowest interval
# [x(k), x(n+1-k)] whose coverage 1 - 2 P(X <= k-1), X ~ Bin(n, 1/2), is at least LEVEL%;
# "n/a" when there are too few numbers for that level.
median_ci() {
	tr ' ' '\n' | grep . | sort -g | awk -v l="$1" '{ v[NR] = $1 } END {
		n = NR; c = 1; cdf = 0; best = 0
		for (k = 1; 2 * k <= n; k++) {
			cdf += c / 2 ^ n; c = c * (n - k + 1) / k # cdf = P(X <= k-1)
			cov = sprintf("%.1f", 100 * (1 - 2 * cdf))
			if (cov + 0 < l) break
			best = k; bestcov = cov
		}
		if (best) printf "%s %s %s%%\n", v[best], v[n + 1 - best], bestcov; else print "n/a" }'
}

# sign_test REF: of the numbers on stdin, how many lie above and below REF, and the two-sided
# sign-test p-value of "their median is REF" (ties dropped): "ABOVE BELOW P"
sign_test() {
	local above below n m
	read -r above below < <(tr ' ' '\n' | grep . |
		awk -v r="$1" '$1 > r { a++ } $1 < r { b++ } END { print a + 0, b + 0 }')
	n=$((above + below)) m=$((above < below ? above : below))
	awk -v a=$above -v b=$below -v p="$(binom_cdf $n $m)" \
		'BEGIN { p *= 2; if (p > 1 || a == b) p = 1; printf "%d %d %.3f\n", a, b, p }'
}

# round_diffs "A1 A2 .." "B1 B2 ..": A_i - B_i of each round, space separated
round_diffs() {
	paste <(echo $1 | tr ' ' '\n') <(echo $2 | tr ' ' '\n') |
		awk 'NF == 2 { printf "%.3f ", $1 - $2 }'
}

# round_summary "V1 V2 .." REF DIGITS: per-round values summed up against REF:
# "MEDIAN (C% CI LO-HI; N of M rounds above REF, sign test p=P)", C >= 90, figures with
# DIGITS decimals
round_summary() {
	local ci st
	ci=$(echo $1 | median_ci 90)
	st=$(echo $1 | sign_test "$2")
	if [[ $ci == n/a ]]; then
		ci="too few rounds for a 90% CI"
	else
		ci=$(echo $ci | awk -v d="$3" '{ printf "%s CI %.*f-%.*f", $3, d, $1, d, $2 }')
	fi
	printf '%.*f (%s; %d of %d rounds above %s, sign test p=%s)\n' "$3" "$(echo $1 | median)" \
		"$ci" "${st%% *}" "$(echo $1 | wc -w)" "$2" "${st##* }"
}

# ratio_summary "A1 A2 .." "B1 B2 ..": the rounds' own ratios A_i/B_i against the goal of 1.0
ratio_summary() { round_summary "$(round_ratios "$1" "$2")" 1.0 2; }

# cpu_sample [STAT_FILE]: "BUSY TOTAL", the jiffies all CPUs spent busy and in all, from the
# "cpu" line of /proc/stat (busy: user nice system irq softirq steal; guest time is in user)
cpu_sample() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' \
		"${1:-/proc/stat}"
}

# cpu_per_io "BUSY0 TOTAL0" "BUSY1 TOTAL1" NCPU IOPS: microseconds of CPU time per I/O, from
# the share of all CPUs that was busy between the samples and the I/O rate over that time
cpu_per_io() {
	awk -v s0="$1" -v s1="$2" -v n="$3" -v iops="$4" 'BEGIN {
		split(s0, a, " "); split(s1, b, " ")
		if (b[2] <= a[2] || iops <= 0) { print "n/a"; exit }
		printf "%.1f\n", (b[1] - a[1]) / (b[2] - a[2]) * n * 1e6 / iops }'
}
