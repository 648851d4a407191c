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

# ratio_summary "A1 A2 .." "B1 B2 ..": the rounds' own ratios summed up against the goal of 1.0:
# "MEDIAN (C% CI LO-HI; N of M rounds above 1.0, sign test p=P)", C >= 90
ratio_summary() {
	local rr ci st
	rr=$(round_ratios "$1" "$2")
	ci=$(echo $rr | median_ci 90)
	st=$(echo $rr | sign_test 1)
	if [[ $ci == n/a ]]; then
		ci="too few rounds for a 90% CI"
	else
		ci=$(echo $ci | awk '{ printf "%s CI %.2f-%.2f", $3, $1, $2 }')
	fi
	printf '%.2f (%s; %d of %d rounds above 1.0, sign test p=%s)\n' "$(echo $rr | median)" \
		"$ci" "${st%% *}" "$(echo $rr | wc -w)" "${st##* }"
}
