# Shell helpers the bench scripts share (sourced, not run).

# The median of the numbers given as arguments: the middle one, or the mean of the two middle
# ones when their count is even.
median() {
  printf '%s\n' "$@" | sort -g |
    awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

# A TCP port on 127.0.0.1 nothing listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits up to 10 s for something to listen on 127.0.0.1 port $1; exits the script if nothing does.
wait_port() {
  for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done
  echo "nothing listens on 127.0.0.1:$1" >&2
  exit 1
}
# Process $1's CPU time in clock ticks: user + system, with those of the children it waited for
# (Redis's log rewrite runs in a forked child).
cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)
# Waits (up to 10 s) until process $1 is idle and has no child (Redis's log rewrite): work a run
# left behind (a snapshot, a rewrite, the search index catching up) is charged to that run, not
# to the next.
settle() {
  local before after
  for _ in $(seq 20); do
    before=$(cpu_ticks "$1"); sleep 0.5; after=$(cpu_ticks "$1")
    [[ $((after - before)) -le 1 ]] && ! pgrep -P "$1" >/dev/null && return
  done
}
