#!/usr/bin/env bash
# Runs search_bench (bench/search_bench.cpp) after making sure apt has the long package
# descriptions its corpus is made of: Debian 12 images often set Acquire::Languages "none", so
# `apt-cache dumpavail` has only the one-line synopses; the Translation-en files hold the rest.
#
#   bench/search_bench.sh                                  # 100k and 1M documents, every system
#   bench/search_bench.sh --docs 100000 --skip-pg --json   # any search_bench option
#
# Env: BUILD build directory [build]. Needs root for apt-get update and for PostgreSQL (which it
# runs as the postgres user); `bash cmake/install-deps.sh` installs SQLite, libpq and PostgreSQL.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}

[[ -x "$BUILD/bin/search_bench" && -x "$BUILD/bin/kvnode" ]] || { echo "build first: make build (or set BUILD=)" >&2; exit 1; }
if ! ls /var/lib/apt/lists/*_i18n_Translation-en* >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]]; then
    echo "search_bench.sh: fetching the long package descriptions (apt-get update -o Acquire::Languages=en)" >&2
    apt-get update -qq -o Acquire::Languages=en
  else
    echo "search_bench.sh: no Translation-en in /var/lib/apt/lists: the corpus will have synopses only" >&2
    echo "search_bench.sh: run as root, or: sudo apt-get update -o Acquire::Languages=en" >&2
  fi
fi
exec "$BUILD/bin/search_bench" "$@"
