#!/usr/bin/env bash
# Installs missing packages (tools/setup.sh), configures build/ (Ninja, Release) and builds.
set -euo pipefail

usage() {
  cat <<'EOF_USAGE'
usage: tools/build.sh [-j N] [TARGET...]

Runs tools/setup.sh, configures the build tree with Ninja (Release) and builds TARGETs (default:
everything).

  -j N, --jobs N   parallel jobs (default: nproc)
  --help           show this help

environment:
  SLUICE_BUILD_DIR  build tree (default: build/ in the repository)
EOF_USAGE
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${SLUICE_BUILD_DIR:-$root/build}
jobs=$(nproc)
targets=()

while (($# > 0)); do
  case "$1" in
    --help | -h) usage; exit 0 ;;
    -j | --jobs)
      if (($# < 2)); then echo "build: $1 needs a number" >&2; usage >&2; exit 2; fi
      jobs=$2; shift 2 ;;
    -j*) jobs=${1#-j}; shift ;;
    --jobs=*) jobs=${1#--jobs=}; shift ;;
    -*) echo "build: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if ! [[ $jobs =~ ^[1-9][0-9]*$ ]]; then
  echo "build: -j wants a positive number, got '$jobs'" >&2
  exit 2
fi

"$root/tools/setup.sh"
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" --parallel "$jobs" ${targets[@]+--target "${targets[@]}"}
