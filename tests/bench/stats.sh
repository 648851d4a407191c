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
