# Shell helpers the bench scripts share (sourced, not run).

# The median of the numbers given as arguments: the middle one, or the mean of the two middle
# ones when their count is even.
median() {
  printf '%s\n' "$@" | sort -g |
    awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
