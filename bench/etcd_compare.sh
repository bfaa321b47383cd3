#!/usr/bin/env bash
# kvnode against etcd on the shapes of etcd v3's data model, side by side in one run: a 3-node
# cluster of each on loopback, 100-byte values, each shape and client count measured in the order
# kvnode, etcd, etcd, kvnode (ABBA: the second run of a pair is slower on this VM), then the mean
# of each side and their ratio.
#
# Shapes (SHAPES):
#   range        a linearizable range of the 100 keys under one prefix, the keyspace holding
#                PREFIXES x 100 keys.  kvnode: kvbench --op range, a random prefix per request;
#                etcd: `benchmark range FROM TO --consistency l`, one fixed prefix (its tool reads
#                one range over and over, which keeps that range in the caches: easier for etcd).
#   range-stale  the same, served from the contacted node's state (kvbench --stale; etcd
#                --consistency s).
#   txn-put      a transaction of one put of a random key among 1M (etcd: `benchmark txn-put
#                --txn-ops 1`, keys taken in turn).
#   cas          read a random one of HOT_KEYS keys, then `if mod_revision(k) == r then put(k, v)`,
#                reading again after a failed compare, until the put is done; an operation is
#                one successful compare-and-set. etcd: `benchmark stm --isolation r --keys
#                HOT_KEYS --keys-per-txn 1 --txn-wr-percent 100`, its STM doing the same
#                read (linearizable Get) and mod_revision-guarded Txn, retried on conflict.
#   put, get     today's shapes for reference: put of a random key among 1M; get of a random one of
#                100k prefilled keys (kvnode) against etcd's linearizable range of one key.
# Client counts (CLIENTS): N (N clients on N connections) or N/C (N clients on C connections;
# kvbench: C connections with N/C requests in flight each; etcd's tool: --clients N --conns C).
#
# Reads (range, range-stale, get) go to every node: kvbench spreads its connections over the
# three (--read-from all), etcd's tool dials its connections round-robin over the endpoints; the
# leader comes first in both, so one client reads from the leader. Writes and the cas loops go to
# the leader (kvbench finds it; etcd's tool with --target-leader). kvnode runs with the search
# index off (etcd keeps none), on a fresh cluster per run (`kvbench --start-cluster 3`, which
# fills the range keyspace in bulk writes first, about 6 s). etcd runs as one cluster for the
# whole script, filled once (if a range shape runs) by etcdctl transactions of 5,000 puts
# (hence --max-txn-ops and --max-request-bytes above the defaults; both are limits only).
#
#   bench/etcd_compare.sh
#   SHAPES="range cas" CLIENTS="50" DURATION=5 bench/etcd_compare.sh
#   bench/etcd_compare.sh --summarize A.tsv B.tsv    # the table of earlier runs' raw results (OUT=)
#
# Env: SHAPES [range range-stale txn-put cas put get], CLIENTS [1 50 1000/100], DURATION seconds
#      per run [10], WARMUP (kvbench) [1], PAIRS ABBA rounds per shape [1: two runs per side],
#      PREFIXES [10000], HOT_KEYS [100], BUILD [build], PEERS [../shared/peers next to the
#      repository], WAIT_QUIET wait up to N s for an idle machine before each run [120],
#      BASE_PORT etcd's first client port [22379], ETCD_BENCH [/tmp/etcd-benchmark], OUT a file
#      for the raw results [a temporary one].
# Needs etcd and etcdctl (apt-get install etcd-server etcd-client) and etcd's benchmark tool:
# PEERS/etcd/build.sh builds both.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/peers}
BUILD=${BUILD:-$ROOT/build}
SHAPES=${SHAPES:-"range range-stale txn-put cas put get"}
CLIENTS=${CLIENTS:-"1 50 1000/100"}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-1}
PAIRS=${PAIRS:-1}
PREFIXES=${PREFIXES:-10000}
RANGE_KEYS=100
HOT_KEYS=${HOT_KEYS:-100}
VALUE=100
WAIT_QUIET=${WAIT_QUIET:-120}
BASE_PORT=${BASE_PORT:-22379}
ETCD_BENCH=${ETCD_BENCH:-/tmp/etcd-benchmark}
REV=$(git -C "$ROOT" log -1 --format=%h 2>/dev/null || echo '?')
export ETCDCTL_API=3

[[ -x "$BUILD/bin/kvbench" && -x "$BUILD/bin/kvnode" ]] || { echo "build kvbench and kvnode first (or set BUILD=)" >&2; exit 1; }
command -v etcd >/dev/null && command -v etcdctl >/dev/null && [[ -x "$ETCD_BENCH" ]] ||
  { echo "etcd, etcdctl or $ETCD_BENCH missing: run $PEERS/etcd/build.sh" >&2; exit 1; }
NOISE="-"
if [[ -f "$PEERS/cpu_noise.sh" ]]; then source "$PEERS/cpu_noise.sh"; else noise_begin() { :; }; noise_end() { :; }; fi

WORK=$(mktemp -d /tmp/etcd_compare.XXXXXX)
OUT=${OUT:-$WORK/results.tsv}
ETCD_PIDS=()
cleanup() {
  for p in "${ETCD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${ETCD_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

quiet() { if [[ "$WAIT_QUIET" -gt 0 && -x "$PEERS/wait_quiet.sh" ]]; then "$PEERS/wait_quiet.sh" "$WAIT_QUIET" >&2 || true; fi; }

# ---- etcd: a 3-node cluster on loopback, filled with the range keyspace --------------------
client_port() { echo $((BASE_PORT + 10 * $1)); }
peer_port() { echo $((BASE_PORT + 10 * $1 + 1)); }
start_etcd() {
  local members="" i
  for i in 1 2 3; do members+="${members:+,}e$i=http://127.0.0.1:$(peer_port "$i")"; done
  for i in 1 2 3; do
    etcd --name "e$i" --data-dir "$WORK/e$i" --logger zap --log-outputs "$WORK/e$i.log" \
      --listen-client-urls "http://127.0.0.1:$(client_port "$i")" --advertise-client-urls "http://127.0.0.1:$(client_port "$i")" \
      --listen-peer-urls "http://127.0.0.1:$(peer_port "$i")" --initial-advertise-peer-urls "http://127.0.0.1:$(peer_port "$i")" \
      --initial-cluster "$members" --initial-cluster-token "etcd-compare-$$" --initial-cluster-state new \
      --quota-backend-bytes $((8 << 30)) --max-txn-ops 10000 --max-request-bytes $((16 << 20)) 2>>"$WORK/e$i.stderr" &
    ETCD_PIDS+=($!)
  done
  ALL_EPS="127.0.0.1:$(client_port 1),127.0.0.1:$(client_port 2),127.0.0.1:$(client_port 3)"
  for _ in $(seq 150); do
    etcdctl --endpoints "$ALL_EPS" --dial-timeout 1s --command-timeout 2s endpoint health >/dev/null 2>&1 && break
    sleep 0.2
  done
  # The leader first: etcd's tool dials its first connection to the first endpoint.
  local leader
  leader=$(etcdctl --endpoints "$ALL_EPS" endpoint status -w json | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if e["Status"]["header"]["member_id"] == e["Status"]["leader"]: print(e["Endpoint"])')
  [[ -n "$leader" ]] || { echo "etcd has no leader" >&2; exit 1; }
  LEADER_FIRST="$leader$(tr ',' '\n' <<<"$ALL_EPS" | grep -vx "$leader" | sed 's/^/,/' | tr -d '\n')"
}
fill_etcd() {  # the keys kvbench --op range reads (if a range shape runs), in transactions of 5,000 puts, and one key for get
  etcdctl --endpoints "$LEADER_FIRST" put benchkey "$(head -c "$VALUE" /dev/zero | tr '\0' v)" >/dev/null
  [[ " $SHAPES " == *" range"* ]] || return 0
  python3 - "$PREFIXES" "$RANGE_KEYS" "$VALUE" "$WORK/fill" <<'PY'
import os, sys
prefixes, per, value, d = int(sys.argv[1]), int(sys.argv[2]), "p" * int(sys.argv[3]), sys.argv[4]
os.makedirs(d, exist_ok=True)
keys = [f"r:{p:06}:{i:05}" for p in range(prefixes) for i in range(per)]
for b in range(0, len(keys), 5000):
    with open(f"{d}/{b // 5000:06}", "w") as f:
        f.write("\n" + "".join(f"put {k} {value}\n" for k in keys[b:b + 5000]) + "\n\n")
PY
  for f in "$WORK"/fill/*; do etcdctl --endpoints "$LEADER_FIRST" --command-timeout 60s txn <"$f" >/dev/null; done
  local got
  got=$(etcdctl --endpoints "$LEADER_FIRST" get "r:" "r;" --limit 1 -w json | python3 -c 'import json, sys; print(json.load(sys.stdin)["count"])')
  [[ "$got" == $((PREFIXES * RANGE_KEYS)) ]] || { echo "etcd holds $got range keys, not $((PREFIXES * RANGE_KEYS))" >&2; exit 1; }
}

# ---- one run of each side; each prints "ops/s p50_ms p99_ms errors" -----------------------
kvnode_run() {  # shape clients conns
  local args=(--start-cluster 3 --index off --connections "$3" --pipeline $(($2 / $3)) --seconds "$DURATION"
              --warmup "$WARMUP" --value-size "$VALUE" --json)
  case $1 in
    range) args+=(--op range --prefixes "$PREFIXES" --range-keys "$RANGE_KEYS") ;;
    range-stale) args+=(--op range --stale --prefixes "$PREFIXES" --range-keys "$RANGE_KEYS") ;;
    txn-put) args+=(--op txn-put --keys 1000000) ;;
    cas) args+=(--op cas --hot-keys "$HOT_KEYS") ;;
    put) args+=(--keys 1000000) ;;
    get) args+=(--reads 1 --prefill --keys 100000) ;;
  esac
  "$BUILD/bin/kvbench" "${args[@]}" >"$WORK/kv.json" 2>"$WORK/kv.err" || true
  [[ -s "$WORK/kv.json" ]] || { echo "0 - - kvbench-failed:$(head -c 200 "$WORK/kv.err" | tr ' \n' '_')"; return; }
  python3 - "$WORK/kv.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
extra = " conflicts=%d" % r["conflicts"] if r["conflicts"] else ""
print("%.0f %.3f %.3f errors=%d%s" % (r["ops_per_sec"], r["p50_ms"], r["p99_ms"], r["errors"], extra))
PY
}
etcd_args() {  # shape
  case $1 in
    range) echo "range r:005000: r:005000; --consistency l" ;;
    range-stale) echo "range r:005000: r:005000; --consistency s" ;;
    txn-put) echo "--target-leader txn-put --txn-ops 1 --key-size 16 --val-size $VALUE --key-space-size 1000000" ;;
    cas) echo "--target-leader stm --isolation r --keys $HOT_KEYS --keys-per-txn 1 --txn-wr-percent 100 --val-size $VALUE" ;;
    put) echo "--target-leader put --key-size 16 --val-size $VALUE --key-space-size 1000000" ;;
    get) echo "range benchkey --consistency l" ;;
  esac
}
etcd_once() {  # shape clients conns total -> "ops/s p50 p99 errors"
  # shellcheck disable=SC2046
  timeout -k 5 $((DURATION * 6 + 60)) "$ETCD_BENCH" --precise --endpoints "$LEADER_FIRST" --conns "$3" --clients "$2" \
    $(etcd_args "$1") --total "$4" 2>&1 | awk '
    /Requests\/sec:/ {rps=$2} /50% in/ {p50=$3*1000} /99% in/ {p99=$3*1000}
    /^  \[[0-9]+\]\t/ {gsub(/[\[\]]/, "", $1); errs += $1}
    END {printf "%.0f %.3f %.3f errors=%d\n", rps, p50, p99, errs}'
}
etcd_run() {  # shape clients conns: a short probe sizes --total to about DURATION seconds
  local probe=$(( $2 * 2 )) rps total
  (( probe < 500 )) && probe=500
  read -r rps _ <<<"$(etcd_once "$1" "$2" "$3" "$probe")"
  total=$(awk -v r="$rps" -v d="$DURATION" 'BEGIN{n=int(r*d); if(n<500)n=500; print n}')
  etcd_once "$1" "$2" "$3" "$total"
}

# The table: each side's mean ops/s over its runs, their ratio, mean p50/p99. summarize FILE...
summarize() {
  python3 - "$@" <<'PY'
import collections, sys
runs = collections.defaultdict(list)
order = []
for line in (l for f in sys.argv[1:] for l in list(open(f))[1:]):
    shape, clients, conns, side, ops, p50, p99, notes, noise = line.rstrip("\n").split("\t")
    key = (shape, int(clients), int(conns))
    if key not in order: order.append(key)
    runs[key + (side,)].append((float(ops), p50, p99, notes))
target = lambda clients: 2.0 if clients == 1 else 5.0
print(f"{'shape':<12} {'clients':>7} {'conns':>5} {'kvnode ops/s':>12} {'etcd ops/s':>10} {'ratio':>6} {'target':>6} "
      f"{'kvnode p50/p99 ms':>18} {'etcd p50/p99 ms':>18}  runs kvnode | etcd")
for key in order:
    k, e = runs[key + ("kvnode",)], runs[key + ("etcd",)]
    km, em = sum(x[0] for x in k) / len(k), sum(x[0] for x in e) / len(e)
    ratio = km / em if em else float("inf")
    def lat(v):
        def mean(i):
            xs = [float(x[i]) for x in v if x[i].replace(".", "").isdigit()]
            return f"{sum(xs) / len(xs):.2f}" if xs else "-"
        return f"{mean(1)}/{mean(2)}"
    met = "met" if ratio >= target(key[1]) else "MISSED"
    print(f"{key[0]:<12} {key[1]:>7} {key[2]:>5} {km:>12.0f} {em:>10.0f} {ratio:>6.2f} {met:>6} {lat(k):>18} {lat(e):>18}  "
          f"{' '.join(f'{x[0]:.0f}' for x in k)} | {' '.join(f'{x[0]:.0f}' for x in e)}")
    for side, v in (("kvnode", k), ("etcd", e)):
        for x in v:
            if x[3] and x[3] != "errors=0": print(f"{'':<12} {side}: {x[3]}")
PY
}

if [[ "${1:-}" == --summarize ]]; then shift; summarize "$@"; exit 0; fi

start_etcd
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); kvnode $REV; $(etcd --version | head -1);" \
  "3 nodes each on loopback; ${VALUE}-byte values; ${DURATION}s per run; prefixes=$PREFIXES x $RANGE_KEYS; hot keys=$HOT_KEYS"
t0=$SECONDS; fill_etcd; echo "# etcd filled in $((SECONDS - t0)) s; leader first: $LEADER_FIRST"

printf 'shape\tclients\tconns\tside\tops_per_sec\tp50_ms\tp99_ms\tnotes\tother/steal_cpu\n' >"$OUT"
for shape in $SHAPES; do
  for c in $CLIENTS; do
    clients=${c%/*}; conns=${c#*/}
    (( clients % conns == 0 )) || { echo "CLIENTS: $c: the clients must share the connections evenly" >&2; exit 2; }
    for _ in $(seq "$PAIRS"); do
      for side in kvnode etcd etcd kvnode; do
        quiet
        if [[ $side == kvnode ]]; then
          noise_begin; res=$(kvnode_run "$shape" "$clients" "$conns"); noise_end
        else
          noise_begin "${ETCD_PIDS[@]}"; res=$(etcd_run "$shape" "$clients" "$conns"); noise_end "${ETCD_PIDS[@]}"
        fi
        read -r ops p50 p99 notes <<<"$res"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$shape" "$clients" "$conns" "$side" "$ops" "$p50" "$p99" "$notes" "$NOISE" |
          tee -a "$OUT" >&2
      done
    done
  done
done

summarize "$OUT"
