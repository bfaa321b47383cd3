#!/usr/bin/env bash
# A/B two builds side by side: kvbench and kvnode of OLD and NEW (two build/bin directories),
# RUNS runs of SECS seconds per shape in the order old-new, new-old, old-new, ..., then the
# median of each side. The order alternates because the second run of a pair is slower on this
# VM even when both sides are the same build (docs/benchmarks.md, "A/B"); SETTLE seconds of
# pause before each run let the previous cluster's teardown finish. Build the old commit in a worktree first, e.g.
#   git worktree add /tmp/old <commit> && cmake -S /tmp/old -B /tmp/old/build -G Ninja \
#     -DCMAKE_BUILD_TYPE=Release && ninja -C /tmp/old/build kvnode kvbench
#   OLD=/tmp/old/build/bin NEW=build/bin bench/ab.sh
# SHAPES picks shapes by name (default: the four above node-set50-nosync). node-set50-nosync
# writes without fsync: the disk's swings drop out and what is left is the code's CPU.
set -u
OLD=${OLD:?set OLD to the old build/bin}; NEW=${NEW:-build/bin}; RUNS=${RUNS:-4}; SECS=${SECS:-6}; SETTLE=${SETTLE:-2}
SHAPES=${SHAPES:-node-set50 node-get50 cluster-set50 cluster-get50}
declare -A args=(
  [node-set50]="--start-node --connections 50 --index off"
  [node-get50]="--start-node --connections 50 --reads 1 --prefill --keys 100000 --index off"
  [cluster-set50]="--start-cluster 3 --connections 50 --index off"
  [cluster-get50]="--start-cluster 3 --connections 50 --reads 1 --prefill --keys 100000 --index off"
  [node-set50-nosync]="--start-node --connections 50 --index off --fsync never"
)
out=$(mktemp)
for name in $SHAPES; do
  for r in $(seq 1 "$RUNS"); do
    order="old new"; (( r % 2 == 0 )) && order="new old"
    for side in $order; do
      bin=$OLD; [ $side = new ] && bin=$NEW
      sleep "$SETTLE"
      # shellcheck disable=SC2086
      line=$("$bin/kvbench" ${args[$name]} --seconds "$SECS" --warmup 1 --json 2>/dev/null | tail -1)
      echo "$line" | python3 -c 'import json,sys
d=json.load(sys.stdin); print(sys.argv[1], sys.argv[2], sys.argv[3], d["ops_per_sec"], d["p50_ms"], d["p99_ms"])' \
        "$name" "$r" "$side" | tee -a "$out"
    done
  done
done
echo "# shape side runs: median ops/s, p50 ms, p99 ms (min-max ops/s)"
python3 - "$out" <<'PY'
import collections, statistics as st, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, _, side, ops, p50, p99 = line.split()
    runs[(name, side)].append((float(ops), float(p50), float(p99)))
for (name, side), v in runs.items():
    med = lambda i: st.median(x[i] for x in v)
    print(f"{name} {side} {len(v)}: {med(0):.0f} ops/s, p50 {med(1):.2f}, p99 {med(2):.2f} "
          f"({min(x[0] for x in v):.0f}-{max(x[0] for x in v):.0f})")
PY
rm -f "$out"
