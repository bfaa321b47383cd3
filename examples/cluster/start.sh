#!/bin/sh
# Starts a local 3-node cluster from node1.toml, node2.toml and node3.toml, in the background.
# Data and logs go to ./data/ (relative to where you run it). Stop it with: start.sh stop
#
#   examples/cluster/start.sh [path/to/kvnode]
#   kvctl --endpoints 127.0.0.1:7379,127.0.0.1:7381,127.0.0.1:7383 set greeting hello
#   examples/cluster/start.sh stop
#
# stop sends SIGTERM to each node of data/node*.pid and waits until they have exited, at most
# KV_STOP_TIMEOUT seconds (15: a node waits up to server.shutdown-timeout, 10 s by default, for
# requests in flight, then hands over its leadership). It says which nodes were not running
# (their pid files are removed) and which did not exit in time (exit status 1; their pid files
# are kept, so a second stop tries again).
set -eu
here=$(cd "$(dirname "$0")" && pwd)

# Whether pid $1 is a live (not zombie) kvnode started by this script for node $2: the pid of a
# node that died may since have been given to another process.
is_our_node() {
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] || return 1
  tr '\0' '\n' 2>/dev/null <"/proc/$1/cmdline" | grep -qxF "$here/node$2.toml"
}

stop_nodes() {
  timeout=${KV_STOP_TIMEOUT:-15}
  stopping=""
  for i in 1 2 3; do
    pidfile=data/node$i.pid
    if [ ! -f "$pidfile" ]; then
      echo "node $i: not running (no $pidfile)"
      continue
    fi
    pid=$(cat "$pidfile")
    if is_our_node "$pid" "$i"; then
      kill -TERM "$pid" 2>/dev/null || true  # it may exit between the check and the signal
      stopping="$stopping $i:$pid"
    else
      rm -f "$pidfile"
      echo "node $i: not running (pid $pid is gone; removed the stale $pidfile)"
    fi
  done
  ticks=0
  while :; do
    left=""
    for entry in $stopping; do
      i=${entry%%:*}
      pid=${entry#*:}
      if is_our_node "$pid" "$i"; then
        left="$left $entry"
      else
        rm -f "data/node$i.pid"
        echo "node $i: stopped (pid $pid)"
      fi
    done
    stopping=$left
    if [ -z "$stopping" ] || [ "$ticks" -ge $((timeout * 10)) ]; then break; fi
    sleep 0.1
    ticks=$((ticks + 1))
  done
  [ -z "$stopping" ] && return 0
  for entry in $stopping; do
    echo "node ${entry%%:*}: pid ${entry#*:} did not exit within $timeout s (kill -9 ${entry#*:} to force it)" >&2
  done
  return 1
}

if [ "${1:-}" = "stop" ]; then
  stop_nodes
  exit
fi
kvnode=${1:-$here/../../build/bin/kvnode}
[ -x "$kvnode" ] || { echo "start.sh: no kvnode binary at $kvnode (run make build, or pass its path)" >&2; exit 2; }
mkdir -p data
for i in 1 2 3; do
  "$kvnode" --config "$here/node$i.toml" &
  echo $! > "data/node$i.pid"
  echo "node $i: pid $!, clients on 127.0.0.1:$((7377 + 2 * i)), log data/node$i.log"
done
