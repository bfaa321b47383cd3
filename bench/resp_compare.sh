#!/usr/bin/env bash
# redis-benchmark against Redis (appendonly yes, appendfsync always: durable per write, like
# kvnode) and against kvnode's Redis-protocol port, shape by shape back to back in one run, with
# each server's CPU time per request (user + system from /proc, with what a run leaves behind, such as a
# snapshot or a log rewrite finishing, divided by the requests) and the load generator's share of
# a core while it ran against each (Redis/kvnode: at 100 % the tool is the limit). Then
# kvnode's two protocols under one load generator (kvbench, and kvbench --resp), alternated, for
# the CPU per request each costs on the same node (the Redis protocol's parser and replies must
# not be what costs). A one-client SET is also set against the floor floor_probe measures first.
#
#   bench/resp_compare.sh
#   TESTS="set get" COMBOS="50:16" INDEX=false bench/resp_compare.sh
#
# Env: COMBOS "clients:pipeline ..." [1:1 50:1 50:16], TESTS [set get incr mset],
#      REQUESTS per redis-benchmark run at 1 client [20000] (x10 at 50 clients, x50 pipelined),
#      KEYS [1000000], VALUE bytes [100], ROUNDS of the protocol comparison [3], SECS per kvbench
#      run [4] (0: skip it), INDEX: kvnode's search index on or off [true] (Redis has none; the protocol
#      comparison is fairest without one), SERVER: more [server] settings for kvnode, `;` between
#      them (e.g. "send-threads = 1"), NODE: more [node] settings the same way (e.g.
#      'huge-pages = "always"'), BUILD [build], REDIS_REWRITE: "off" [off], Redis's log never
#      rewritten (as ../shared/peers' anchor runs it: its log and its recovery grow without bound),
#      or "default", Redis 7's own rule (rewrite at 100 % growth past 64 MB, in a forked child whose
#      CPU is counted), which is kvnode's default snapshot rule. PREFILL=1: first SET and INCR
#      3 x KEYS random keys into both servers (about 95 % of the keys and of INCR's counters
#      then exist, and the measured SETs and INCRs overwrite), where by default the runs start
#      from empty servers and the first SETs mostly add keys (for kvnode, two B-tree inserts
#      each: key order and SCAN's hash order).
# Needs redis-server and redis-tools (cmake/install-deps.sh).
set -euo pipefail
export LC_NUMERIC=C  # `time` prints its seconds with a point, for python3 to read
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
COMBOS=${COMBOS:-"1:1 50:1 50:16"}
TESTS=${TESTS:-"set get incr mset"}
REQUESTS=${REQUESTS:-20000}
KEYS=${KEYS:-1000000}
VALUE=${VALUE:-100}
INDEX=${INDEX:-true}
SERVER=${SERVER:-}
NODE=${NODE:-}
REDIS_REWRITE=${REDIS_REWRITE:-off}
case "$REDIS_REWRITE" in
  off) REWRITE_ARGS=(--auto-aof-rewrite-percentage 0) ;;
  default) REWRITE_ARGS=(--auto-aof-rewrite-percentage 100 --auto-aof-rewrite-min-size 64mb) ;;
  *) echo "REDIS_REWRITE must be off or default" >&2; exit 2 ;;
esac
command -v redis-server >/dev/null || { echo "redis-server missing: cmake/install-deps.sh" >&2; exit 1; }
[[ -x "$BUILD/bin/kvnode" && -x "$BUILD/bin/kvbench" ]] || { echo "build first: make build" >&2; exit 1; }

WORK=$(mktemp -d /tmp/kv_resp_compare.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

source "$ROOT/bench/common.sh"  # free_port, wait_port, cpu_ticks, TICK, settle, median

REDIS_PORT=$(free_port)
mkdir -p "$WORK/redis"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$WORK/redis" --logfile "$WORK/redis/log" --save "" \
  --appendonly yes --appendfsync always --aof-use-rdb-preamble no "${REWRITE_ARGS[@]}" &
REDIS_PID=$!
PIDS+=("$REDIS_PID")

KV_PORT=$(free_port)
KV_RESP=$(free_port)
cat >"$WORK/kv.toml" <<TOML
[node]
data-dir = "$WORK/kv"
${NODE//;/$'\n'}
[server]
listen = "127.0.0.1:$KV_PORT"
${SERVER//;/$'\n'}
[resp]
listen = "127.0.0.1:$KV_RESP"
[index]
enabled = $INDEX
[log]
level = "warn"
TOML
"$BUILD/bin/kvnode" --config "$WORK/kv.toml" 2>>"$WORK/kvnode.log" &
KV_PID=$!
PIDS+=("$KV_PID")
wait_port "$REDIS_PORT"
wait_port "$KV_RESP"

# The floor of a one-client durable SET on this machine now: one loopback round trip plus one
# write+fdatasync on the data directory's file system (bench/floor_probe.cpp).
read -r FLOOR_US BEST_US BEST_HOW < <("$BUILD/bin/floor_probe" --dir "$WORK" --samples "${FLOOR_SAMPLES:-1000}" --json |
  python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["floor_us"], j["best_floor_us"], j["best"].replace(" ", "_"))')
if [[ ${PREFILL:-0} == 1 ]]; then
  for port in "$REDIS_PORT" "$KV_RESP"; do
    redis-benchmark -h 127.0.0.1 -p "$port" -t set,incr -c 50 -P 16 -n $((KEYS * 3)) -d "$VALUE" -r "$KEYS" -q >/dev/null
  done
fi
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(redis-server --version | grep -o 'v=[0-9.]*'), kvnode $(git -C "$ROOT" rev-parse --short HEAD)"
echo "# floor of a one-client durable write now: loopback round trip + write+fdatasync $FLOOR_US µs; with the fastest durable write ($BEST_HOW) $BEST_US µs"
echo "# ${VALUE}-byte values, $KEYS keys, Redis log rewrite $REDIS_REWRITE,$([[ ${PREFILL:-0} == 1 ]] && echo " prefilled,") kvnode's search index enabled=$INDEX${NODE:+, [node] $NODE}${SERVER:+, [server] $SERVER}; redis-benchmark against both, Redis then kvnode for each shape"
printf '%-5s %3s %3s %12s %12s %6s %16s %16s %10s %10s %11s\n' test c P "redis req/s" "kvnode req/s" ratio \
  "redis p50/p99" "kvnode p50/p99" "redis µs" "kvnode µs" "tool %CPU"

# One redis-benchmark run against port $1 (server pid $2): "rps p50 p99 cpu_us_per_request
# tool_cpu_percent", the last the load generator's own CPU time over its run's wall time (one
# thread: near 100 % it, not the server, sets the pace).
run() {
  local port=$1 pid=$2 test=$3 c=$4 P=$5 n=$6 before after line
  settle "$pid"
  before=$(cpu_ticks "$pid")
  { TIMEFORMAT='%R %U %S'; time redis-benchmark -h 127.0.0.1 -p "$port" -t "$test" -c "$c" -P "$P" -n "$n" -d "$VALUE" \
    -r "$KEYS" --csv --precision 3 >"$WORK/tool.out"; } 2>"$WORK/tool.time"
  line=$(grep -v '^"test"' "$WORK/tool.out" | tail -1)
  settle "$pid"
  after=$(cpu_ticks "$pid")
  python3 - "$line" "$before" "$after" "$TICK" "$n" $(tail -1 "$WORK/tool.time") <<'PY'
import sys
f = [x.strip('"') for x in sys.argv[1].split(",")]
before, after, tick, n = (float(x) for x in sys.argv[2:6])
wall, user, sys_ = (float(x) for x in sys.argv[6:9])
# "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
print(f[1], f[4], f[6], f"{(after - before) / tick / n * 1e6:.1f}", f"{(user + sys_) / wall * 100:.0f}")
PY
}

for combo in $COMBOS; do
  c=${combo%%:*}; P=${combo##*:}
  n=$REQUESTS
  [[ $c -gt 1 ]] && n=$((REQUESTS * 10))
  [[ $P -gt 1 ]] && n=$((REQUESTS * 50))
  for test in $TESTS; do
    read -r r_rps r_p50 r_p99 r_cpu r_tool < <(run "$REDIS_PORT" "$REDIS_PID" "$test" "$c" "$P" "$n")
    read -r k_rps k_p50 k_p99 k_cpu k_tool < <(run "$KV_RESP" "$KV_PID" "$test" "$c" "$P" "$n")
    [[ $test == set && $c == 1 && $P == 1 ]] && SET1_P50=("$r_p50" "$k_p50")
    printf '%-5s %3s %3s %12.0f %12.0f %6.2f %16s %16s %10s %10s %11s\n' "$test" "$c" "$P" "$r_rps" "$k_rps" \
      "$(python3 -c "print($k_rps / $r_rps)")" "$r_p50/$r_p99" "$k_p50/$k_p99" "$r_cpu" "$k_cpu" "$r_tool/$k_tool"
  done
done

if [[ -n ${SET1_P50:-} ]]; then
  python3 - "$FLOOR_US" "$BEST_US" "$BEST_HOW" "${SET1_P50[@]}" <<'PY'
import sys
floor, best, how, redis, kv = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], float(sys.argv[4]) * 1e3, float(sys.argv[5]) * 1e3
print(f"# set 1:1 against the floor (loopback round trip + write+fdatasync = {floor:.0f} µs): "
      f"redis p50 {redis / floor:.2f}x, kvnode p50 {kv / floor:.2f}x; with the fastest durable write "
      f"({how}, {best:.0f} µs): redis {redis / best:.2f}x, kvnode {kv / best:.2f}x")
PY
fi
[[ ${ROUNDS:-3} == 0 ]] && exit 0
echo
echo "# kvnode's CPU per request by protocol: the same load generator (kvbench, --resp for the Redis"
echo "# protocol) on the same node, alternated ${ROUNDS:=3} times per shape; medians (set, then get of prefilled keys)"
printf '%-5s %3s %3s %14s %14s %6s\n' test c P "RESP µs/req" "binary µs/req" ratio
"$BUILD/bin/kvbench" --endpoints "127.0.0.1:$KV_PORT" --keys "$KEYS" --value-size "$VALUE" --prefill --seconds 0.1 \
  --warmup 0 >/dev/null
# kvnode's CPU per request for one kvbench run: `protocol` binary or resp, then kvbench's flags.
kv_cpu() {
  local protocol=$1 before after ops
  shift
  local via=()
  [[ $protocol == resp ]] && via=(--resp "127.0.0.1:$KV_RESP")
  settle "$KV_PID"
  before=$(cpu_ticks "$KV_PID")
  ops=$("$BUILD/bin/kvbench" --endpoints "127.0.0.1:$KV_PORT" --keys "$KEYS" --value-size "$VALUE" --warmup 0 \
    --seconds "${SECS:-4}" --json "${via[@]}" "$@" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["ops"])')
  after=$(cpu_ticks "$KV_PID")
  python3 -c "print(f'{($after - $before) / $TICK / $ops * 1e6:.2f}')"
}
for combo in $COMBOS; do
  c=${combo%%:*}; P=${combo##*:}
  for test in set get; do
    reads=0
    [[ $test == get ]] && reads=1
    resp=(); binary=()
    for _ in $(seq "$ROUNDS"); do
      binary+=("$(kv_cpu binary --connections "$c" --pipeline "$P" --reads "$reads")")
      resp+=("$(kv_cpu resp --connections "$c" --pipeline "$P" --reads "$reads")")
    done
    r=$(median "${resp[@]}"); b=$(median "${binary[@]}")
    printf '%-5s %3s %3s %14s %14s %6.2f   (runs: RESP %s; binary %s)\n' "$test" "$c" "$P" "$r" "$b" \
      "$(python3 -c "print($r / $b)")" "${resp[*]}" "${binary[*]}"
  done
done
