#!/usr/bin/env bash
# Runs Redis (appendonly, appendfsync always: durable per write, like kvnode) and kvnode under
# the same load shapes in one go, and prints both with the ratio. Needs redis-server and
# redis-tools (apt-get install -y redis-server redis-tools) and the peer script directory.
#
#   bench/compare_redis.sh                     # SET and GET at 1:1, 50:1, 50:16 (clients:pipeline)
#   DURATION=5 COMBOS="50:16" bench/compare_redis.sh
#
# Env: DURATION seconds per run [10], COMBOS [1:1 50:1 50:16], KEYS [1000000], VALUE bytes [100],
#      PEERS directory holding redis_bench.sh [../shared/peers next to the repository],
#      BUILD build directory [build].
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/peers}
BUILD=${BUILD:-$ROOT/build}
DURATION=${DURATION:-10}
COMBOS=${COMBOS:-"1:1 50:1 50:16"}
KEYS=${KEYS:-1000000}
VALUE=${VALUE:-100}

[[ -x "$PEERS/redis_bench.sh" ]] || { echo "no $PEERS/redis_bench.sh (set PEERS=)" >&2; exit 1; }
[[ -x "$BUILD/bin/kvbench" && -x "$BUILD/bin/kvnode" ]] || { echo "build first: make build" >&2; exit 1; }

WORK=$(mktemp -d /tmp/kv_compare.XXXXXX)
NODE_PID=""
cleanup() {
  if [[ -n "$NODE_PID" ]]; then kill "$NODE_PID" 2>/dev/null; wait "$NODE_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); ${VALUE}-byte values, $KEYS keys, ${DURATION}s per run"
echo "# each shape runs Redis then kvnode back to back (this disk's fsync latency drifts over minutes)"

start_node() {
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -rf "$WORK/data"
  cat >"$WORK/kv.toml" <<TOML
[node]
data-dir = "$WORK/data"
[server]
listen = "127.0.0.1:$PORT"
[resp]
listen = ""
[log]
level = "warn"
TOML
  "$BUILD/bin/kvnode" --config "$WORK/kv.toml" 2>>"$WORK/kvnode.log" &
  NODE_PID=$!
  for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
}
stop_node() { kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null || true; NODE_PID=""; }
kv() { "$BUILD/bin/kvbench" --endpoints "127.0.0.1:$PORT" --keys "$KEYS" --value-size "$VALUE" --warmup 1 "$@"; }

for combo in $COMBOS; do
  c=${combo%%:*}; P=${combo##*:}
  # Redis: SET then GET on one server, as redis_bench.sh runs them.
  COMBOS="$combo" DURATION="$DURATION" KEYS="$KEYS" VALUE="$VALUE" "$PEERS/redis_bench.sh" >>"$WORK/redis.txt" 2>&1
  # kvnode: SET, then fill every key (and let snapshots settle), then GET, on one node.
  start_node
  kv --connections "$c" --pipeline "$P" --seconds "$DURATION" --json >>"$WORK/kv_set.json"
  kv --prefill --seconds 0.1 --warmup 0 >/dev/null
  sleep 2
  kv --connections "$c" --pipeline "$P" --reads 1 --seconds "$DURATION" --json >>"$WORK/kv_get.json"
  stop_node
done

python3 - "$WORK" <<'PY'
import json, sys, os
work = sys.argv[1]
redis = {}
for line in open(os.path.join(work, "redis.txt")):
    f = line.split()
    if len(f) >= 9 and f[0].isdigit():
        redis[(f[1], int(f[2]), int(f[3]))] = (float(f[5]), f[6], f[7])
print(f"{'test':<5} {'c':>3} {'P':>3} {'redis ops/s':>12} {'kvnode ops/s':>13} {'ratio':>6}   {'redis p50/p99 ms':>17} {'kvnode p50/p99 ms':>18}")
for test in ("set", "get"):
    for line in open(os.path.join(work, f"kv_{test}.json")):
        r = json.loads(line)
        key = (test, r["connections"], r["pipeline"])
        rops, rp50, rp99 = redis.get(key, (0, "-", "-"))
        ratio = r["ops_per_sec"] / rops if rops else 0
        print(f"{test:<5} {key[1]:>3} {key[2]:>3} {rops:>12.0f} {r['ops_per_sec']:>13.0f} {ratio:>6.2f}   "
              f"{rp50+'/'+rp99:>17} {r['p50_ms']:.3f}/{r['p99_ms']:.3f}".rstrip())
PY
