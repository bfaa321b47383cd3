#!/usr/bin/env bash
# Installs the Debian packages kvnode needs to build, test and benchmark.
# Idempotent: when every package is already installed it only checks and exits.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libasio-dev liburing-dev libspdlog-dev libfmt-dev libboost-test-dev
  libtomlplusplus-dev libabsl-dev libjemalloc-dev nlohmann-json3-dev
  libicu-dev libstemmer-dev
  nftables
  redis-tools redis-server python3-redis
  libsqlite3-dev libpq-dev postgresql postgresql-contrib
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js and npm for the ioredis client test: the machine's own if it has them, else Debian's.
if ! command -v npm >/dev/null; then
  for p in nodejs npm; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi

# ioredis (npm), pinned by test/clients/package-lock.json, for test/fault/redis_clients_test.cpp.
install_client_libraries() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/test/clients"
  [[ -d "$dir/node_modules/ioredis" ]] && return 0
  command -v npm >/dev/null || return 0
  echo "install-deps: installing ioredis into $dir/node_modules"
  if ! (cd "$dir" && npm ci --no-audit --no-fund >/dev/null); then
    echo "install-deps: npm ci failed in $dir: the ioredis test will be skipped" >&2
  fi
}

if [[ ${#missing[@]} -eq 0 ]]; then
  install_client_libraries
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
install_client_libraries
