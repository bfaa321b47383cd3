#!/usr/bin/env bash
# Checks every #include "..." of the product's sources against cmake/layers.txt: a file may
# include headers of its own folder and of the folders its folder's line names. Prints each
# include that breaks the rule (file:line, the folders involved) and exits 1 if there is one.
# Usage: cmake/check_layers.sh [source-dir]
set -euo pipefail
root=${1:-$(dirname "$0")/..}
cd "$root"

declare -A allowed
folders=()
while IFS= read -r line; do
  line=${line%%#*}
  [[ $line =~ ^[[:space:]]*$ ]] && continue
  folder=${line%%:*}
  folder=${folder//[[:space:]]/}
  allowed[$folder]=" ${line#*:} "
  folders+=("$folder")
done < cmake/layers.txt

# The deepest listed folder holding `path`, or nothing.
layer_of() {
  local path=$1 best="" f
  for f in "${folders[@]}"; do
    if [[ $path == "$f"/* && ${#f} -gt ${#best} ]]; then best=$f; fi
  done
  printf '%s' "$best"
}

broken=0
checked=0
while IFS= read -r file; do
  from=$(layer_of "$file")
  if [[ -z $from ]]; then
    echo "$file: in no folder of cmake/layers.txt (add its folder there)"
    broken=1
    continue
  fi
  while IFS=: read -r lineno header; do
    checked=$((checked + 1))
    to=$(layer_of "$header")
    [[ -z $to ]] && continue  # not one of ours (a header next to a test, a generated file)
    [[ $to == "$from" ]] && continue
    case "${allowed[$from]}" in
      *" $to "*) ;;
      *) echo "$file:$lineno: includes $header: $from may not use $to (cmake/layers.txt)"; broken=1 ;;
    esac
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" | sed -E 's/^([0-9]+):[^"]*"([^"]*)".*/\1:\2/')
done < <(find core io raft index apps -name '*.hpp' -o -name '*.cpp' | sort)

if [[ $broken -ne 0 ]]; then
  echo "check_layers: includes break the layering above" >&2
  exit 1
fi
echo "check_layers: $checked includes follow cmake/layers.txt"
