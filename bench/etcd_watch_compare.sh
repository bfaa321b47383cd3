#!/usr/bin/env bash
# kvnode against etcd on watches, side by side in one run: a 3-node cluster of each on loopback,
# etcd under its own benchmark tool (`benchmark watch`, `benchmark watch-latency`), kvnode under
# bench/watch_load with the same parameters (`--shape watch`, `--shape watch-latency`), each
# configuration measured in the order kvnode, etcd, etcd, kvnode (ABBA: the second run of a
# pair is slower on this VM), then the mean of each side and their ratio.
#
# Configurations:
#   WATCH    "streams:watch-per-stream:keys:put-clients/conns ...": S streams of W watchers over
#            K keys (etcd: --streams S --watch-per-stream W --watched-key-total K
#            --key-space-size K --sequential-keys, so that the K keys differ), then puts to the
#            keys in turn with N in flight (etcd: N clients sharing C connections, stream i on
#            client i's; kvnode: a connection per stream, the puts on one more). Reported:
#            events delivered a second (every watcher's events over the time from the first put
#            to the last event: etcd's "Watch events received summary" Requests/sec) and the
#            puts a second that caused them. The put total is sized by a short probe of each
#            side to about DURATION seconds.
#   LATENCY  "watchers/conns ...": W watchers of one key over C connections; puts to the key one
#            at a time at PUT_RATE a second, each waiting for every watcher's event. Reported: the
#            delay from the put's answer to each watcher's event (what etcd's watch-latency
#            measures), p50/p99/max; watch_load also reports it from the put's send (not
#            comparable: etcd's tool does not measure it).
#   KEEPALIVE "clients/conns ...": lease keepalives, one request at a time per client (etcd:
#            `benchmark lease-keepalive`, each client renewing its own lease with KeepAliveOnce;
#            kvnode: `kvbench --op lease-keepalive`, `conns` connections of clients/conns requests in
#            flight, over as many leases as clients). Reported: keepalives a second, p50/p99.
#
# Everything goes to the leader (etcd's tool with --target-leader; watch_load does so itself).
# kvnode runs with the search index off (etcd keeps none), on a fresh cluster per run
# (`watch_load --start-cluster 3`); etcd runs as one cluster for the whole script, its key
# history growing from run to run. The noise column is, in percent of all cores during the run,
# the CPU of processes other than the side measured and this script's children (the machine is
# shared), then irq and softirq time (charged to no process; mostly the run's own loopback
# traffic), then the time the VM's host stole.
#
#   bench/etcd_watch_compare.sh
#   WATCH="10:100:1:1/1" LATENCY="" DURATION=5 bench/etcd_watch_compare.sh
#
# Env: WATCH ["10:100:1:1/1 10:100:1:50/10 10:100:100:50/10"], LATENCY ["1/1 100/10"],
#      KEEPALIVE ["1/1 50/10"],
#      PUT_RATE [100], DURATION seconds per run [10], PAIRS ABBA rounds [1: two runs per side],
#      BUILD [build], BASE_PORT etcd's first client port [23379], ETCD_BENCH
#      [/tmp/etcd-benchmark], QUIET wait up to N s for a mostly idle machine before each run [20],
#      OUT a file for the raw results [a temporary one].
# Needs etcd and etcdctl (apt-get install etcd-server etcd-client) and etcd's benchmark tool
# (tools/benchmark of the same etcd version, built as ETCD_BENCH).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
WATCH=${WATCH-"10:100:1:1/1 10:100:1:50/10 10:100:100:50/10"}
LATENCY=${LATENCY-"1/1 100/10"}
KEEPALIVE=${KEEPALIVE-"1/1 50/10"}
PUT_RATE=${PUT_RATE:-100}
DURATION=${DURATION:-10}
PAIRS=${PAIRS:-1}
BASE_PORT=${BASE_PORT:-23379}
ETCD_BENCH=${ETCD_BENCH:-/tmp/etcd-benchmark}
QUIET=${QUIET:-20}
KEY_SIZE=32
REV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo "?")
export ETCDCTL_API=3

[[ -x "$BUILD/bin/watch_load" && -x "$BUILD/bin/kvbench" && -x "$BUILD/bin/kvnode" ]] ||
  { echo "build watch_load, kvbench and kvnode first (or set BUILD=)" >&2; exit 1; }
command -v etcd >/dev/null && command -v etcdctl >/dev/null && [[ -x "$ETCD_BENCH" ]] ||
  { echo "etcd, etcdctl or $ETCD_BENCH missing" >&2; exit 1; }

WORK=$(mktemp -d /tmp/etcd_watch_compare.XXXXXX)
OUT=${OUT:-$WORK/results.tsv}
ETCD_PIDS=()
cleanup() {
  for p in "${ETCD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${ETCD_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the machine: how idle it is, and what other processes burn meanwhile ------------------
# /proc/stat jiffies: user+nice+system (what processes are charged), irq+softirq (charged to no
# process: much of it the loopback traffic of the run itself), steal (the VM's host).
cpu_jiffies() { awk '/^cpu /{print $2+$3+$4, $7+$8, $9}' /proc/stat; }
# CPU jiffies of the given pids, plus those of this shell's children that have been waited for.
ours_jiffies() {
  local s=0 p
  for p in "$@"; do s=$((s + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo $((s + $(awk '{print $16+$17}' /proc/$$/stat)))
}
noise_begin() { read -r N_PROC N_IRQ N_STEAL <<<"$(cpu_jiffies)"; N_OURS=$(ours_jiffies "$@"); N_T=$(date +%s%N); }
noise_end() {  # sets NOISE: other processes / irq+softirq / steal, in percent of all cores
  local dt=$(( ($(date +%s%N) - N_T) / 10000000 )) proc irq steal  # jiffies of 10 ms
  read -r proc irq steal <<<"$(cpu_jiffies)"
  NOISE=$(awk -v p=$((proc - N_PROC)) -v o=$(($(ours_jiffies "$@") - N_OURS)) -v i=$((irq - N_IRQ)) \
    -v s=$((steal - N_STEAL)) -v t="$dt" -v n="$(nproc)" \
    'BEGIN{x=(p-o)*100/(t*n); if(x<0)x=0; printf "%.0f%%/%.0f%%/%.0f%%", x, i*100/(t*n), s*100/(t*n)}')
}
quiet() {  # waits until the machine was 90% idle over 2 s, QUIET seconds at most
  local end=$((SECONDS + QUIET)) i1 t1 i2 t2
  while (( SECONDS < end )); do
    read -r i1 t1 < <(awk '/^cpu /{print $5+$6, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat); sleep 2
    read -r i2 t2 < <(awk '/^cpu /{print $5+$6, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    (( 100 * (i2 - i1) / (t2 - t1 + 1) >= 90 )) && return 0
  done
  return 0  # measure anyway: the noise column says how busy the machine was
}

# ---- etcd: a 3-node cluster on loopback --------------------------------------------------------
client_port() { echo $((BASE_PORT + 10 * $1)); }
peer_port() { echo $((BASE_PORT + 10 * $1 + 1)); }
start_etcd() {
  local members="" i
  for i in 1 2 3; do members+="${members:+,}e$i=http://127.0.0.1:$(peer_port "$i")"; done
  for i in 1 2 3; do
    etcd --name "e$i" --data-dir "$WORK/e$i" --logger zap --log-outputs "$WORK/e$i.log" \
      --listen-client-urls "http://127.0.0.1:$(client_port "$i")" --advertise-client-urls "http://127.0.0.1:$(client_port "$i")" \
      --listen-peer-urls "http://127.0.0.1:$(peer_port "$i")" --initial-advertise-peer-urls "http://127.0.0.1:$(peer_port "$i")" \
      --initial-cluster "$members" --initial-cluster-token "etcd-watch-compare-$$" --initial-cluster-state new \
      --quota-backend-bytes $((8 << 30)) 2>>"$WORK/e$i.stderr" &
    ETCD_PIDS+=($!)
  done
  EPS="127.0.0.1:$(client_port 1),127.0.0.1:$(client_port 2),127.0.0.1:$(client_port 3)"
  for _ in $(seq 150); do
    etcdctl --endpoints "$EPS" --dial-timeout 1s --command-timeout 2s endpoint health >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "etcd did not become healthy within 30 s" >&2; exit 1
}

# ---- one run of each side; each prints "rate p50_ms p99_ms max_ms notes" ------------------------
# watch: rate is events/s, the notes carry puts/s; latency: rate is the puts/s the run reached.
etcd_watch() {  # streams wps keys clients conns puts
  timeout -k 5 $((DURATION * 10 + 60)) "$ETCD_BENCH" --precise --endpoints "$EPS" --target-leader --clients "$4" \
    --conns "$5" watch --streams "$1" --watch-per-stream "$2" --watched-key-total "$3" --key-space-size "$3" \
    --sequential-keys --key-size "$KEY_SIZE" --put-total "$6" --put-rate 100000000 2>&1 | awk -v puts="$6" '
    /Watch events received summary/ {ev=1} ev && /Total:/ {total=$2} ev && /Requests\/sec:/ {rps=$2}
    END {if (rps == "") print "0 - - - etcd-failed"; else printf "%.0f - - - puts/s=%.0f\n", rps, puts/total}'
}
kvnode_watch() {  # streams wps keys clients conns puts
  "$BUILD/bin/watch_load" --start-cluster 3 --index off --shape watch --streams "$1" --watch-per-stream "$2" \
    --watched-key-total "$3" --put-clients "$4" --put-total "$6" --key-size "$KEY_SIZE" --json \
    >"$WORK/kv.json" 2>"$WORK/kv.err" || true
  kv_result '{events_per_sec:.0f} - - - puts/s={puts_per_sec:.0f},cpu_load/node={load_cpu_share:.2f}/{node_cpu_share:.2f}'
}
etcd_latency() {  # watchers conns puts
  timeout -k 5 $((DURATION * 10 + 60)) "$ETCD_BENCH" --precise --endpoints "$EPS" --target-leader --clients "$1" \
    --conns "$2" watch-latency --put-rate "$PUT_RATE" --total "$3" --key-size "$KEY_SIZE" --val-size 32 2>&1 | awk -v puts="$3" '
    /Total:/ {total=$2} /Slowest:/ {max=$2*1000} /50% in/ {p50=$3*1000} /99% in/ {p99=$3*1000}
    END {if (total == "") print "0 - - - etcd-failed"; else printf "%.1f %.3f %.3f %.3f -\n", puts/total, p50, p99, max}'
}
kvnode_latency() {  # watchers conns puts
  "$BUILD/bin/watch_load" --start-cluster 3 --index off --shape watch-latency --watchers "$1" --connections "$2" \
    --put-total "$3" --put-rate "$PUT_RATE" --key-size "$KEY_SIZE" --val-size 32 --json >"$WORK/kv.json" 2>"$WORK/kv.err" || true
  kv_result '{puts_per_sec:.1f} {event_after_ack_p50_ms:.3f} {event_after_ack_p99_ms:.3f} {event_after_ack_max_ms:.3f} from_send_p50/p99={event_after_send_p50_ms:.3f}/{event_after_send_p99_ms:.3f}'
}
etcd_keepalive() {  # clients conns total
  timeout -k 5 $((DURATION * 10 + 60)) "$ETCD_BENCH" --precise --endpoints "$EPS" --target-leader --clients "$1" \
    --conns "$2" lease-keepalive --total "$3" 2>&1 | awk '
    /Requests\/sec:/ {rps=$2} /50% in/ {p50=$3*1000} /99% in/ {p99=$3*1000} /Slowest:/ {max=$2*1000}
    END {if (rps == "") print "0 - - - etcd-failed"; else printf "%.0f %.3f %.3f %.3f -\n", rps, p50, p99, max}'
}
kvnode_keepalive() {  # clients conns
  "$BUILD/bin/kvbench" --start-cluster 3 --index off --op lease-keepalive --leases "$1" --connections "$2" \
    --pipeline $(( ($1 + $2 - 1) / $2 )) --seconds "$DURATION" --json >"$WORK/kv.json" 2>"$WORK/kv.err" || true
  kv_result '{ops_per_sec:.0f} {p50_ms:.3f} {p99_ms:.3f} {p999_ms:.3f} p99.9_in_max_column'
}
kv_result() {  # a Python format string over the fields of watch_load's JSON report
  [[ -s "$WORK/kv.json" ]] || { echo "0 - - - watch_load-failed:$(head -c 200 "$WORK/kv.err" | tr ' \n' '_')"; return; }
  python3 - "$WORK/kv.json" "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
line = sys.argv[2].format(**r)
if r["errors"]: line += ",errors=%d:%s" % (r["errors"], ",".join(r["errors_by_kind"]))
print(line)
PY
}

# Puts for about DURATION seconds of a watch run, from a probe of 1/10 of that at the probe's rate.
sized_puts() {  # side args...
  local side=$1 probe rate; shift
  probe=$(( 200 * ($4 > 1 ? 5 : 1) ))
  if [[ $side == kvnode ]]; then
    read -r _ _ _ _ rate <<<"$(kvnode_watch "$@" "$probe")"
  else
    read -r _ _ _ _ rate <<<"$(etcd_watch "$@" "$probe")"
  fi
  rate=${rate#puts/s=}; rate=${rate%%,*}
  awk -v r="$rate" -v d="$DURATION" 'BEGIN{n=int(r*d); if(n<200)n=200; print n}'
}

summarize() {
  python3 - "$@" <<'PY'
import collections, sys
runs, order = collections.defaultdict(list), []
for line in list(open(sys.argv[1]))[1:]:
    kind, config, side, rate, p50, p99, mx, notes, noise = line.rstrip("\n").split("\t")
    key = (kind, config)
    if key not in order: order.append(key)
    runs[key + (side,)].append((float(rate), p50, p99, mx, notes, noise))
mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")
def lat(v, i):
    xs = [float(x[i]) for x in v if x[i] not in ("-", "")]
    return mean(xs)
print("watch: events delivered a second (etcd's 'Watch events received summary'); target kvnode >= 5x etcd")
print(f"{'config S:W:K:N/C':<22} {'kvnode ev/s':>12} {'etcd ev/s':>12} {'ratio':>6}   runs kvnode | etcd (other/irq/steal CPU)")
for key in (k for k in order if k[0] == "watch"):
    k, e = runs[key + ("kvnode",)], runs[key + ("etcd",)]
    km, em = mean([x[0] for x in k]), mean([x[0] for x in e])
    print(f"{key[1]:<22} {km:>12.0f} {em:>12.0f} {km / em if em else float('inf'):>6.2f}   "
          f"{' '.join(f'{x[0]:.0f}' for x in k)} | {' '.join(f'{x[0]:.0f}' for x in e)}  "
          f"({' '.join(x[5] for x in k)} | {' '.join(x[5] for x in e)})")
    for side, v in (("kvnode", k), ("etcd", e)):
        print(f"{'':<22} {side}: {'; '.join(x[4] for x in v)}")
print()
print(f"watch-latency: put's answer to each watcher's event, ms, at {sys.argv[2]} puts/s; target kvnode p99 <= etcd's")
print(f"{'config W/C':<12} {'kvnode p50/p99/max':>24} {'etcd p50/p99/max':>24} {'p99 ratio':>9}   (other/irq/steal CPU)")
for key in (k for k in order if k[0] == "latency"):
    k, e = runs[key + ("kvnode",)], runs[key + ("etcd",)]
    fmt3 = lambda v: f"{lat(v, 1):.3f}/{lat(v, 2):.3f}/{lat(v, 3):.3f}"
    print(f"{key[1]:<12} {fmt3(k):>24} {fmt3(e):>24} {lat(k, 2) / lat(e, 2) if lat(e, 2) else float('inf'):>9.2f}   "
          f"({' '.join(x[5] for x in k)} | {' '.join(x[5] for x in e)})")
    print(f"{'':<12} kvnode: {'; '.join(x[4] for x in k)}")
print()
print("lease-keepalive: keepalives a second; target kvnode >= 5x etcd")
print(f"{'config N/C':<12} {'kvnode/s':>10} {'etcd/s':>10} {'ratio':>6} {'kvnode p50/p99':>16} {'etcd p50/p99':>16}   (other/irq/steal CPU)")
for key in (k for k in order if k[0] == "keepalive"):
    k, e = runs[key + ("kvnode",)], runs[key + ("etcd",)]
    km, em = mean([x[0] for x in k]), mean([x[0] for x in e])
    print(f"{key[1]:<12} {km:>10.0f} {em:>10.0f} {km / em if em else float('inf'):>6.2f} "
          f"{lat(k, 1):>7.3f}/{lat(k, 2):<8.3f} {lat(e, 1):>7.3f}/{lat(e, 2):<8.3f}   "
          f"({' '.join(x[5] for x in k)} | {' '.join(x[5] for x in e)})")
PY
}

start_etcd
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); kvnode $REV; $(etcd --version | head -1);" \
  "3 nodes each on loopback, everything to the leader; ${DURATION} s per watch run; ${KEY_SIZE}-byte keys"
printf 'kind\tconfig\tside\trate\tp50_ms\tp99_ms\tmax_ms\tnotes\tother/irq/steal_cpu\n' >"$OUT"
run() {  # kind config side command args...
  local kind=$1 config=$2 side=$3 res; shift 3
  quiet
  if [[ $side == kvnode ]]; then
    noise_begin; res=$("$@"); noise_end
  else
    noise_begin "${ETCD_PIDS[@]}"; res=$("$@"); noise_end "${ETCD_PIDS[@]}"
  fi
  read -r rate p50 p99 mx notes <<<"$res"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$config" "$side" "$rate" "$p50" "$p99" "$mx" "$notes" "$NOISE" |
    tee -a "$OUT" >&2
}
for c in $WATCH; do
  IFS=: read -r streams wps keys nc <<<"$c"
  clients=${nc%/*}; conns=${nc#*/}
  args=("$streams" "$wps" "$keys" "$clients" "$conns")
  kv_puts=$(sized_puts kvnode "${args[@]}"); etcd_puts=$(sized_puts etcd "${args[@]}")
  for _ in $(seq "$PAIRS"); do
    for side in kvnode etcd etcd kvnode; do
      if [[ $side == kvnode ]]; then run watch "$c" kvnode kvnode_watch "${args[@]}" "$kv_puts"
      else run watch "$c" etcd etcd_watch "${args[@]}" "$etcd_puts"; fi
    done
  done
done
for c in $LATENCY; do
  watchers=${c%/*}; conns=${c#*/}
  puts=$(( PUT_RATE * DURATION ))
  for _ in $(seq "$PAIRS"); do
    for side in kvnode etcd etcd kvnode; do
      run latency "$c" "$side" "${side}_latency" "$watchers" "$conns" "$puts"
    done
  done
done
for c in $KEEPALIVE; do
  clients=${c%/*}; conns=${c#*/}
  total=$(( 2000 * DURATION ))
  for _ in $(seq "$PAIRS"); do
    for side in kvnode etcd etcd kvnode; do
      if [[ $side == kvnode ]]; then run keepalive "$c" kvnode kvnode_keepalive "$clients" "$conns"
      else run keepalive "$c" etcd etcd_keepalive "$clients" "$conns" "$total"; fi
    done
  done
done
summarize "$OUT" "$PUT_RATE"
