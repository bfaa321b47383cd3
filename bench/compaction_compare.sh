#!/usr/bin/env bash
# What compacting the log costs the write latency, kvnode against Redis, under one rule and one
# load generator: each server compacts every LOG_SIZE of log written ("with": kvnode snapshots,
# Redis rewrites its append-only file in a forked child), or never ("without"). redis-benchmark
# SETs against each, a fresh server per run, KEYS keys prefilled, runs alternated RUNS times;
# medians. Issue 19's target: the write p99 with compaction at most 1.5x the p99 without.
#
#   bench/compaction_compare.sh
#   SHAPES="50:1" RUNS=3 LOG_SIZE=32MiB bench/compaction_compare.sh
#
# The rule, on each side: kvnode `snapshot-log-size = LOG_SIZE` (no entry count, no percentage),
# and its history compaction as by default (Redis keeps no history; "without" turns both off);
# Redis has no absolute size rule, so after the prefill the script rewrites the file once and sets
# `auto-aof-rewrite-percentage` to LOG_SIZE as a percentage of the rewritten file (at a million
# keys of 100 bytes 8 MiB is about 7 %), with `auto-aof-rewrite-min-size` LOG_SIZE. Both then
# compact back to back under these loads: the shape where compaction's cost shows most.
#
# Env: SHAPES "clients:pipeline ..." [50:1 50:16], REQUESTS per run at pipeline 1 [600000]
#      (x5 pipelined), KEYS [1000000], VALUE bytes [100], RUNS [2], LOG_SIZE in MiB [8], BUILD.
# Prints req/s, p50/p99 ms, the server's CPU µs per SET (user + system, with the forked rewrite
# children it waited for) and how many compactions finished within the run.
# Needs redis-server and redis-tools (cmake/install-deps.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
SHAPES=${SHAPES:-"50:1 50:16"}
REQUESTS=${REQUESTS:-600000}
KEYS=${KEYS:-1000000}
VALUE=${VALUE:-100}
RUNS=${RUNS:-2}
LOG_MIB=${LOG_SIZE:-8}
LOG_MIB=${LOG_MIB%MiB}
[[ $LOG_MIB =~ ^[0-9]+$ && $LOG_MIB -gt 0 ]] || { echo "LOG_SIZE must be a whole number of MiB" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "redis-server missing: cmake/install-deps.sh" >&2; exit 1; }
[[ -x "$BUILD/bin/kvnode" ]] || { echo "build first: make build" >&2; exit 1; }

WORK=$(mktemp -d /tmp/kv_compaction_compare.XXXXXX)
# Each run's server is started in a command substitution's subshell: its pid is kept in a file
# for the cleanup to find.
cleanup() {
  if [[ -f $WORK/pid ]]; then
    local pid
    pid=$(cat "$WORK/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

source "$ROOT/bench/common.sh"  # free_port, wait_port, cpu_ticks, TICK, settle, median
redis_cli() { redis-cli -p "$PORT" "$@"; }

# Starts server $1 (kvnode or redis) compacting or not ($2: with or without) on $PORT, data in $DIR.
start() {
  DIR=$WORK/$1-$2
  rm -rf "$DIR"; mkdir -p "$DIR"
  PORT=$(free_port)
  if [[ $1 == redis ]]; then
    redis-server --bind 127.0.0.1 --port "$PORT" --dir "$DIR" --logfile "$DIR/log" --save "" --appendonly yes \
      --appendfsync always --aof-use-rdb-preamble no --auto-aof-rewrite-percentage 0 &
  else
    local storage='snapshot-entries = 1000000000
snapshot-log-size = "64GiB"
auto-compaction-mode = "off"'
    [[ $2 == with ]] && storage="snapshot-entries = 1000000000
snapshot-log-size = \"${LOG_MIB}MiB\"
snapshot-log-percent = 0"
    cat >"$DIR/kv.toml" <<TOML
[node]
data-dir = "$DIR/data"
[server]
listen = "127.0.0.1:$(free_port)"
[resp]
listen = "127.0.0.1:$PORT"
[storage]
$storage
[index]
enabled = false
[log]
level = "info"
TOML
    "$BUILD/bin/kvnode" --config "$DIR/kv.toml" 2>"$DIR/log" &
  fi
  PID=$!
  echo "$PID" >"$WORK/pid"
  wait_port "$PORT"
}

# Redis compacts by growth since its last rewrite: rewrite once, then ask for LOG_SIZE of growth.
redis_rule() {
  redis_cli bgrewriteaof >/dev/null
  local info
  while info=$(redis_cli info persistence) && [[ $info == *aof_rewrite_in_progress:1* || $info == *aof_rewrite_scheduled:1* ]]; do
    sleep 0.1
  done
  local base
  base=$(redis_cli info persistence | tr -d '\r' | awk -F: '$1 == "aof_base_size" {print $2}')
  local pct=$(( (LOG_MIB * 1048576 * 100 + base - 1) / base ))
  redis_cli config set auto-aof-rewrite-min-size "$((LOG_MIB * 1048576))" >/dev/null
  redis_cli config set auto-aof-rewrite-percentage "$pct" >/dev/null
  RULE=$pct
}

compactions() {
  if [[ $1 == redis ]]; then grep -c 'Background AOF rewrite finished successfully' "$DIR/log" || true
  else grep -c 'snapshot at index [0-9]* written' "$DIR/log" || true; fi
}

# One run: "rps p50 p99 cpu_us compactions redis_percentage" (- for kvnode, or without).
run() {
  local server=$1 mode=$2 c=$3 P=$4 n=$5 line before after done_before
  RULE=-
  start "$server" "$mode"
  redis-benchmark -p "$PORT" -t set -c 50 -P 16 -n $((KEYS * 3)) -d "$VALUE" -r "$KEYS" -q >/dev/null
  [[ $server == redis && $mode == with ]] && redis_rule
  settle "$PID"
  done_before=$(compactions "$server")
  before=$(cpu_ticks "$PID")
  line=$(redis-benchmark -p "$PORT" -t set -c "$c" -P "$P" -n "$n" -d "$VALUE" -r "$KEYS" --csv --precision 3 |
    grep -v '^"test"' | tail -1)
  settle "$PID"  # a compaction the run started is charged to it, on both servers
  after=$(cpu_ticks "$PID")
  local done_after
  done_after=$(compactions "$server")
  kill "$PID"; wait "$PID" 2>/dev/null || true
  rm -rf "$DIR" "$WORK/pid"
  python3 - "$line" "$before" "$after" "$TICK" "$n" "$((done_after - done_before))" "$RULE" <<'PY'
import sys
f = [x.strip('"') for x in sys.argv[1].split(",")]
before, after, tick, n = (float(x) for x in sys.argv[2:6])
print(f[1], f[4], f[6], f"{(after - before) / tick / n * 1e6:.1f}", sys.argv[6], sys.argv[7])
PY
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(redis-server --version | grep -o 'v=[0-9.]*'), kvnode $(git -C "$ROOT" rev-parse --short HEAD)"
echo "# SET, ${VALUE}-byte values over $KEYS keys (prefilled); with: compaction every ${LOG_MIB} MiB of log; without: none; medians of $RUNS"
printf '%-7s %-6s %11s %15s %8s %11s %15s %8s %6s %6s %11s\n' server shape "with req/s" "with p50/p99" "with µs" \
  "without" "without p50/p99" "µs" "p99 x" "req/s x" compactions
for shape in $SHAPES; do
  c=${shape%%:*}; P=${shape##*:}
  n=$REQUESTS
  [[ $P -gt 1 ]] && n=$((REQUESTS * 5))
  declare -A res=()
  for _ in $(seq "$RUNS"); do
    for server in kvnode redis; do
      for mode in with without; do
        res[$server.$mode]+="$(run "$server" "$mode" "$c" "$P" "$n");"
      done
    done
  done
  for server in kvnode redis; do
    col() { tr ';' '\n' <<<"${res[$server.$1]}" | awk -v k="$2" 'NF {print $k}'; }
    w_r=$(median $(col with 1)); w_50=$(median $(col with 2)); w_99=$(median $(col with 3)); w_cpu=$(median $(col with 4))
    o_r=$(median $(col without 1)); o_50=$(median $(col without 2)); o_99=$(median $(col without 3)); o_cpu=$(median $(col without 4))
    printf '%-7s %-6s %11.0f %15s %8s %11.0f %15s %8s %6.2f %6.2f %11s\n' "$server" "$shape" "$w_r" "$w_50/$w_99" "$w_cpu" \
      "$o_r" "$o_50/$o_99" "$o_cpu" "$(python3 -c "print($w_99 / $o_99)")" "$(python3 -c "print($w_r / $o_r)")" \
      "$(col with 5 | paste -sd' ')"
    echo "#   $server $shape runs with: p99 $(col with 3 | paste -sd' '); without: p99 $(col without 3 | paste -sd' ')"
    [[ $server == redis ]] && echo "#   Redis's rule: auto-aof-rewrite-percentage $(col with 6 | paste -sd' ') (${LOG_MIB} MiB of the rewritten file)"
  done
  unset res
done
