#!/usr/bin/env bash
# Throughput and CPU per request of one kvnode given one core and then two (taskset), without
# and with send threads, under the same load: kvbench, not pinned, against a node started by hand
# for each variant. Prints, per shape, requests/s and the node's CPU time per request of each
# variant, and the ratio of the last to the first.
#
#   bench/cores.sh
#   SHAPES="set:50:16 get:50:16" SECS=5 RUNS=3 bench/cores.sh
#   VARIANTS="0,1/0 0,1/1/always" bench/cores.sh
#
# Env: SHAPES "op:connections:pipeline ..." [set:50:1 set:50:16 get:50:1 get:50:16], SECS per run
#      [5], RUNS per variant, alternated, medians [3], VARIANTS "cores/send-threads[/send-offload]
#      ..." [0/0 0,1/0 0,1/1], INDEX [false], BUILD.
# On a 2-core machine the load generator shares the cores: with "0,1" it competes with the node,
# with "0" it has a core of its own. docs/architecture.md ("Cores") reads these figures.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
SHAPES=${SHAPES:-"set:50:1 set:50:16 get:50:1 get:50:16"}
SECS=${SECS:-5}
RUNS=${RUNS:-3}
VARIANTS=${VARIANTS:-"0/0 0,1/0 0,1/1"}
INDEX=${INDEX:-false}
[[ -x "$BUILD/bin/kvnode" && -x "$BUILD/bin/kvbench" ]] || { echo "build first: make build" >&2; exit 1; }

WORK=$(mktemp -d /tmp/kv_cores.XXXXXX)
KV_PID=
stop_node() {
  if [[ -n $KV_PID ]]; then kill "$KV_PID" 2>/dev/null || true; wait "$KV_PID" 2>/dev/null || true; fi
  KV_PID=
}
trap 'stop_node; rm -rf "$WORK"' EXIT
source "$ROOT/bench/common.sh"  # free_port, wait_port, cpu_ticks, TICK, median

# Starts a fresh node for variant $1 (cores/send-threads[/send-offload]), prefilled; sets KV_PID
# and KV_PORT.
start_node() {
  local cores threads offload
  IFS=/ read -r cores threads offload <<<"$1"
  rm -rf "$WORK/kv"
  KV_PORT=$(free_port)
  cat >"$WORK/kv.toml" <<TOML
[node]
data-dir = "$WORK/kv"
[server]
listen = "127.0.0.1:$KV_PORT"
send-threads = ${threads:-0}
send-offload = "${offload:-when-busy}"
[index]
enabled = $INDEX
[log]
level = "warn"
TOML
  taskset -c "$cores" "$BUILD/bin/kvnode" --config "$WORK/kv.toml" 2>>"$WORK/kvnode.log" &
  KV_PID=$!
  wait_port "$KV_PORT"
  "$BUILD/bin/kvbench" --endpoints "127.0.0.1:$KV_PORT" --keys 1000000 --prefill --seconds 0.1 --warmup 0 >/dev/null
}

# One run of shape $2 against a node of variant $1: "ops/s cpu_us_per_request".
run() {
  local variant=$1 op c P reads=0 before after json
  IFS=: read -r op c P <<<"$2"
  [[ $op == get ]] && reads=1
  start_node "$variant"
  before=$(cpu_ticks "$KV_PID")
  json=$("$BUILD/bin/kvbench" --endpoints "127.0.0.1:$KV_PORT" --keys 1000000 --connections "$c" --pipeline "$P" \
    --reads "$reads" --seconds "$SECS" --warmup 0 --json)
  after=$(cpu_ticks "$KV_PID")
  stop_node
  python3 -c "import json,sys; j=json.loads(sys.argv[1]); ops=j['ops']; print(f\"{j['ops_per_sec']:.0f} {($after - $before) / $TICK / ops * 1e6:.2f}\")" "$json"
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); kvnode $(git -C "$ROOT" rev-parse --short HEAD), index $INDEX"
echo "# variants cores/send-threads[/send-offload]: kvnode pinned (taskset -c) to the cores, kvbench not pinned;"
echo "# medians of $RUNS alternated runs of ${SECS}s"
header="shape       "
for v in $VARIANTS; do header+=$(printf '%20s %8s' "req/s [$v]" "µs/req"); done
echo "$header   ratio (last/first)"
for shape in $SHAPES; do
  declare -A rps=() cpu=()
  for _ in $(seq "$RUNS"); do
    for v in $VARIANTS; do
      read -r r u < <(run "$v" "$shape")
      rps[$v]+="$r "; cpu[$v]+="$u "
    done
  done
  line=$(printf '%-12s' "$shape")
  first= last=
  for v in $VARIANTS; do
    # shellcheck disable=SC2086
    r=$(median ${rps[$v]}); u=$(median ${cpu[$v]})
    line+=$(printf '%20s %8s' "$r" "$u")
    [[ -z $first ]] && first=$r
    last=$r
  done
  echo "$line   $(python3 -c "print(f'{$last / $first:.2f}')")"
  unset rps cpu
done
