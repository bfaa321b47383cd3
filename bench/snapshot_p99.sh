#!/usr/bin/env bash
# The write latency while snapshots and compactions run, against the same load without them:
# kvbench starts a fresh node for each run (1M keys prefilled, 100-byte values, SETs over them),
# once configured to snapshot every SNAPSHOT_ENTRIES entries and compact the history as by
# default, once with both pushed out of the run; alternated RUNS times, medians. Issue 19's
# target: the p99 with them at most 1.5x the p99 without.
#
#   bench/snapshot_p99.sh
#   SHAPES="50:1 50:16" SECS=20 RUNS=3 SNAPSHOT_ENTRIES=200000 bench/snapshot_p99.sh
#   SNAPSHOT_ENTRIES=500000 LOG_SIZE=64MiB LOG_PERCENT=100 bench/snapshot_p99.sh   # the defaults
#
# Env: SHAPES "connections:pipeline ..." [50:1 50:16], SECS per run [15], RUNS [3],
#      SNAPSHOT_ENTRIES [200000], LOG_SIZE (snapshot-log-size) [8MiB], LOG_PERCENT
#      (snapshot-log-percent) [0], CAPTURE (storage.snapshot-capture of the runs with snapshots:
#      thread, event-loop or fork) [thread], INDEX [off], BUILD.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
SHAPES=${SHAPES:-"50:1 50:16"}
SECS=${SECS:-15}
RUNS=${RUNS:-3}
SNAPSHOT_ENTRIES=${SNAPSHOT_ENTRIES:-200000}
LOG_SIZE=${LOG_SIZE:-8MiB}
LOG_PERCENT=${LOG_PERCENT:-0}
CAPTURE=${CAPTURE:-thread}
INDEX=${INDEX:-off}
[[ -x "$BUILD/bin/kvbench" ]] || { echo "build first: make build" >&2; exit 1; }

declare -A storage=(
  [with]="snapshot-entries = $SNAPSHOT_ENTRIES; snapshot-log-size = \"$LOG_SIZE\"; snapshot-log-percent = $LOG_PERCENT; snapshot-capture = \"$CAPTURE\""
  [without]="snapshot-entries = 1000000000; snapshot-log-size = \"64GiB\"; auto-compaction-mode = \"off\""
)
# One run: "ops/s p50_ms p99_ms".
run() {
  local c=${2%%:*} P=${2##*:}
  "$BUILD/bin/kvbench" --start-node --index "$INDEX" --keys 1000000 --prefill --connections "$c" --pipeline "$P" \
    --seconds "$SECS" --warmup 1 --json --node-storage "${storage[$1]}" |
    python3 -c 'import json,sys; j=json.loads(sys.stdin.readline()); print(round(j["ops_per_sec"]), j["p50_ms"], j["p99_ms"])'
}
source "$ROOT/bench/common.sh"  # median

echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); kvnode $(git -C "$ROOT" rev-parse --short HEAD)"
echo "# with: a snapshot every $SNAPSHOT_ENTRIES entries or $LOG_SIZE of log (or $LOG_PERCENT % of the last snapshot if more; captured: $CAPTURE), compaction as by default; without: neither"
printf '%-8s %12s %14s %12s %14s %10s\n' shape "with req/s" "with p50/p99" "without" "without p50/p99" "p99 ratio"
for shape in $SHAPES; do
  w_r=(); w_50=(); w_99=(); o_r=(); o_50=(); o_99=()
  for _ in $(seq "$RUNS"); do
    read -r r a b < <(run with "$shape"); w_r+=("$r"); w_50+=("$a"); w_99+=("$b")
    read -r r a b < <(run without "$shape"); o_r+=("$r"); o_50+=("$a"); o_99+=("$b")
  done
  wp99=$(median "${w_99[@]}"); op99=$(median "${o_99[@]}")
  printf '%-8s %12s %14s %12s %14s %10s\n' "$shape" "$(median "${w_r[@]}")" "$(median "${w_50[@]}")/$wp99" \
    "$(median "${o_r[@]}")" "$(median "${o_50[@]}")/$op99" "$(python3 -c "print(f'{$wp99 / $op99:.2f}')")"
  echo "#   runs with: p99 ${w_99[*]}; without: p99 ${o_99[*]}"
done
