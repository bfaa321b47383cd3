#!/bin/sh
# Starts a local 3-node cluster from node1.toml, node2.toml and node3.toml, in the background.
# Data and logs go to ./data/ (relative to where you run it). Stop it with: start.sh stop
#
#   examples/cluster/start.sh [path/to/kvnode]
#   kvctl --endpoints 127.0.0.1:7379,127.0.0.1:7381,127.0.0.1:7383 set greeting hello
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = "stop" ]; then
  for i in 1 2 3; do
    if [ -f "data/node$i.pid" ]; then kill "$(cat "data/node$i.pid")" 2>/dev/null || true; rm -f "data/node$i.pid"; fi
  done
  exit 0
fi
kvnode=${1:-$here/../../build/bin/kvnode}
[ -x "$kvnode" ] || { echo "start.sh: no kvnode binary at $kvnode (run make build, or pass its path)" >&2; exit 2; }
mkdir -p data
for i in 1 2 3; do
  "$kvnode" --config "$here/node$i.toml" &
  echo $! > "data/node$i.pid"
  echo "node $i: pid $!, clients on 127.0.0.1:$((7377 + 2 * i)), log data/node$i.log"
done
