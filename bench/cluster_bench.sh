#!/usr/bin/env bash
# Throughput and latency of a local 3-node kvnode cluster, next to etcd's figures on this machine.
#
# Eight shapes: SET and GET with 1, 50 and 1000 clients, each a connection with one request in
# flight, and with 1000 clients over 100 connections (10 requests in flight on each, every one
# sent when its predecessor on the slot is answered): the shape etcd's performance guide runs its
# 1000-client figures with (`benchmark --conns=100 --clients=1000`); 100-byte values. Each shape runs on a fresh cluster that `kvbench --start-cluster`
# starts on free ports and fresh data directories. SETs go to the leader; GETs (linearizable:
# ReadIndex, no stale flag) run after every key was written, with the connections spread
# round-robin over the three nodes. Prints ops/s, p50, p99, errors, the CPU other processes used
# meanwhile, and the ratio to etcd.
#
#   bench/cluster_bench.sh
#   DURATION=5 CLIENTS="1 50" TESTS=set bench/cluster_bench.sh
#
# Env: DURATION seconds per run [10], WARMUP seconds [1], TESTS [set get],
#      CLIENTS [1 50 1000 1000/100]: N clients on N connections, or N/C: N clients over C connections,
#      KEYS [100000], VALUE bytes [100], NODES [3], BUILD build directory [build],
#      PEERS the peer script directory [../shared/peers next to the repository],
#      WAIT_QUIET wait up to N s for an idle machine before each run (PEERS/wait_quiet.sh) [0],
#      REV the label printed for the kvnode build [the repository's HEAD commit],
#      INDEX the nodes' [index] enabled, on or off [off].
#
# INDEX defaults to off because etcd keeps no search index: with it on (kvnode's default), every
# node also tokenizes and indexes each value it applies, on its index thread, and the write
# figures are those of a store doing more work than etcd (docs/benchmarks.md gives both).
#
# The etcd figures are etcd 3.4.23 as a 3-node cluster on loopback on this machine, with its own
# benchmark tool and 100-byte values, as recorded in ../shared/peers/README.md: put ~530/s,
# ~3.5k/s, ~7.6k/s and linearizable range ~1.1k/s, ~5k/s, ~7.3k/s with 1, 50, 1000 clients.
# The README does not record how many connections etcd's tool used. The tool's --conns defaults
# to 1 (its clients then share one gRPC connection) and etcd's performance guide runs 1000
# clients on 100, so etcd's 1000-client figure was measured on at most 100 connections; both
# 1000-client shapes here are set against it, the one with a connection per client being the
# harder. The target is 5x etcd on every shape.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/peers}
BUILD=${BUILD:-$ROOT/build}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-1}
CLIENTS=${CLIENTS:-"1 50 1000 1000/100"}
TESTS=${TESTS:-"set get"}
KEYS=${KEYS:-100000}
VALUE=${VALUE:-100}
NODES=${NODES:-3}
WAIT_QUIET=${WAIT_QUIET:-0}
REV=${REV:-$(git -C "$ROOT" log -1 --format=%h 2>/dev/null || echo '?')}
INDEX=${INDEX:-off}

[[ -x "$BUILD/bin/kvbench" && -x "$BUILD/bin/kvnode" ]] || { echo "build first: make build (or set BUILD=)" >&2; exit 1; }
NOISE="-"
if [[ -f "$PEERS/cpu_noise.sh" ]]; then source "$PEERS/cpu_noise.sh"; else noise_begin() { :; }; noise_end() { :; }; fi

WORK=$(mktemp -d /tmp/kv_cluster_bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $NODES nodes on loopback;" \
  "${VALUE}-byte values over $KEYS keys; ${DURATION}s per run after ${WARMUP}s warmup; search index $INDEX; kvnode $REV"

for test in $TESTS; do
  for c in $CLIENTS; do
    if [[ "$WAIT_QUIET" -gt 0 && -x "$PEERS/wait_quiet.sh" ]]; then "$PEERS/wait_quiet.sh" "$WAIT_QUIET" >&2 || true; fi
    clients=${c%/*}
    conns=${c#*/}
    if (( clients % conns != 0 )); then echo "CLIENTS: $c: the clients must share the connections evenly" >&2; exit 2; fi
    args=(--start-cluster "$NODES" --connections "$conns" --pipeline $((clients / conns)) --seconds "$DURATION" --warmup "$WARMUP"
          --keys "$KEYS" --value-size "$VALUE" --index "$INDEX" --json)
    [[ "$test" == get ]] && args+=(--prefill --reads 1)
    noise_begin
    # kvbench exits 3 when any request failed; the errors are in its report.
    "$BUILD/bin/kvbench" "${args[@]}" >"$WORK/out.json" 2>"$WORK/err.txt" || true
    noise_end
    if [[ ! -s "$WORK/out.json" ]]; then echo "kvbench failed for $test c=$c: $(cat "$WORK/err.txt")" >&2; continue; fi
    printf '%s\t%s\n' "$NOISE" "$(cat "$WORK/out.json")" >>"$WORK/results.tsv"
  done
done

python3 - "$WORK/results.tsv" <<'PY'
import json, sys
# etcd 3.4.23, 3 nodes on loopback, this machine (../shared/peers/README.md).
etcd = {("set", 1): 530, ("set", 50): 3500, ("set", 1000): 7600,
        ("get", 1): 1100, ("get", 50): 5000, ("get", 1000): 7300}
target = 5.0
print(f"{'test':<4} {'clients':>7} {'conns':>5} {'kvnode ops/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
      f"{'etcd ops/s':>10} {'ratio':>6} {'5x met':>6}  {'other/steal cpu':>15}")
for line in open(sys.argv[1]):
    noise, js = line.rstrip("\n").split("\t", 1)
    r = json.loads(js)
    key = (r["bench"], r["connections"] * r["pipeline"])
    ref = etcd.get(key)
    ratio = r["ops_per_sec"] / ref if ref else 0
    print(f"{key[0]:<4} {key[1]:>7} {r['connections']:>5} {r['ops_per_sec']:>12.0f} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} {r['errors']:>6} "
          f"{ref or '-':>10} {ratio:>6.2f} {('yes' if ratio >= target else 'no'):>6}  {noise:>15}")
    if r["errors"]:
        print(f"     errors: {r['errors_by_kind']}")
    if r["bench"] == "get" and len(r["ops_by_node"]) > 1:
        print(f"     reads answered by node: {' '.join(str(v) for v in r['ops_by_node'].values())}")
PY
