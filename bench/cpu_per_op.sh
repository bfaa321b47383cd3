#!/usr/bin/env bash
# CPU time per request: what a build's nodes spend per write or read, which (unlike throughput)
# barely moves with how busy this VM is that minute. Runs BIN/kvnode, loads it with BIN/kvbench for
# SECS seconds (50 connections, 100-byte values), and prints the throughput and the nodes' CPU
# time (user + system, from /proc) divided by the requests served.
#
#   bench/cpu_per_op.sh BIN [set|get]                # one node, index off
#   FSYNC=never bench/cpu_per_op.sh BIN set          # the same without fsync: the disk drops out
#   NODES=3 bench/cpu_per_op.sh BIN set              # examples/cluster's 3 nodes (their config)
#
# get prefills 100,000 keys and reads them; set writes random keys among 1M. Alternate two builds
# run by run (A B A B ...) to compare them (docs/benchmarks.md, "A/B").
set -eu
BIN=$(cd "${1:?usage: cpu_per_op.sh BIN [set|get]}" && pwd); MODE=${2:-set}
NODES=${NODES:-1}; FSYNC=${FSYNC:-always}; SECS=${SECS:-6}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
  if [ "$NODES" = 3 ]; then (cd "$work" && "$here/examples/cluster/start.sh" stop >/dev/null 2>&1 || true); fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true  # our child (one node); the cluster's nodes are start.sh's
    while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
  done
  rm -rf "$work"
}
trap cleanup EXIT

if [ "$NODES" = 1 ]; then
  port=$((20000 + RANDOM % 20000))
  cat >"$work/kv.toml" <<EOF
[node]
data-dir = "$work/data"
[server]
listen = "127.0.0.1:$port"
[resp]
listen = ""
[storage]
fsync = "$FSYNC"
[index]
enabled = false
[log]
file = "$work/log"
EOF
  "$BIN/kvnode" --config "$work/kv.toml" & pids+=($!)
  endpoints=127.0.0.1:$port
elif [ "$NODES" = 3 ]; then
  [ "$FSYNC" = always ] || { echo "cpu_per_op.sh: NODES=3 runs examples/cluster as configured (fsync always)" >&2; exit 2; }
  (cd "$work" && "$here/examples/cluster/start.sh" "$BIN/kvnode" >/dev/null)
  for f in "$work"/data/node*.pid; do pids+=("$(cat "$f")"); done
  endpoints=127.0.0.1:7379,127.0.0.1:7381,127.0.0.1:7383
else
  echo "cpu_per_op.sh: NODES is 1 or 3" >&2; exit 2
fi
sleep 1.5

load=()
if [ "$MODE" = get ]; then
  "$BIN/kvbench" --endpoints "$endpoints" --connections 50 --reads 1 --prefill --keys 100000 --seconds 1 >/dev/null 2>&1
  load=(--reads 1 --keys 100000)
elif [ "$MODE" != set ]; then
  echo "cpu_per_op.sh: the mode is set or get" >&2; exit 2
fi
cpu_ticks() {
  local sum=0
  for p in "${pids[@]}"; do sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$sum"
}
c0=$(cpu_ticks)
report=$("$BIN/kvbench" --endpoints "$endpoints" --connections 50 "${load[@]}" --seconds "$SECS" --json 2>/dev/null | tail -1)
c1=$(cpu_ticks)
hz=$(getconf CLK_TCK)
echo "$report" | python3 -c '
import json, sys
d = json.load(sys.stdin)
ticks, hz = int(sys.argv[1]), int(sys.argv[2])
ops, rate = d["ops"], d["ops_per_sec"]
print(f"{sys.argv[3]} nodes={sys.argv[4]} fsync={sys.argv[5]} {sys.argv[6]}: {rate:.0f} ops/s, "
      f"{ticks / hz * 1e6 / ops:.1f} us of node CPU per request")' \
  "$((c1 - c0))" "$hz" "$BIN" "$NODES" "$FSYNC" "$MODE"
