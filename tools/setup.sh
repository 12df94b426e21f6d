#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing, benchmarking and fuzzing sluice need.
# Idempotent: checks each package with dpkg-query and touches apt only when something is missing
# (one `apt-get update`, one `apt-get install`). As root it installs; otherwise it names what is
# missing and the command to run, and exits 1.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: tools/setup.sh [--check] [--list] [--help]

Installs every Debian package sluice needs (build, tests, benchmarks, fuzzing, BPF), only those
that are missing.

  --check   only report missing packages; exit 1 if any are missing (never installs)
  --list    print the package list, one per line, and exit
  --help    show this help
EOF
}

# One line each, with the reason, so the list stays reviewable.
packages=(
  build-essential      # g++ 12, make, libc headers (linux-libc-dev: <linux/bpf.h>, <asm/types.h>)
  cmake                # 3.25
  ninja-build
  pkg-config           # finds libbpf / libxdp
  ccache               # picked up automatically by CMakeLists.txt when present
  python3              # tools/lint-determinism
  clang                # BPF objects (-target bpf) and the libFuzzer build tree
  libclang-rt-14-dev   # libFuzzer + ASan/UBSan runtimes for clang 14
  llvm                 # llvm-symbolizer on PATH: readable sanitizer / fuzzer stack traces
  libboost-context-dev # fibers
  node-llhttp          # llhttp C sources + header (compiled in-tree, cmake/llhttp.cmake)
  libflatbuffers-dev
  flatbuffers-compiler # flatc
  libtomlplusplus-dev  # scenario files
  libcli11-dev         # command-line flags
  librapidcheck-dev
  libgtest-dev
  libbenchmark-dev
  libbpf-dev           # libbpf 1.1 (+ libelf-dev, zlib1g-dev)
  libxdp-dev           # AF_XDP (<xdp/xsk.h>)
  bpftool              # `bpftool gen skeleton`
  iproute2             # `ip netns` / veth in the XDP tests; ip and tc in sluice-realfault
  iptables             # sluice-realfault's NFQUEUE rules for delay and reorder faults
  libnetfilter-queue-dev # sluice-netdelay: delay and reorder without sch_netem (optional in CMake)
  nlohmann-json3-dev   # the HTTP API's JSON bodies (parsed with exceptions off)
  libsodium-dev        # API tokens: salted hashes compared in constant time
  chromium             # headless: the timeline page's browser test (tests/sim/timeline_browser_test.py)
)

check_only=0
for arg in "$@"; do
  case "$arg" in
    --help | -h) usage; exit 0 ;;
    --check) check_only=1 ;;
    --list) printf '%s\n' "${packages[@]}"; exit 0 ;;
    *) echo "setup: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "setup: dpkg-query not found; this script supports Debian 12 only" >&2
  exit 1
fi

# True when the package is installed (for any architecture). dpkg-query prints one status per
# installed architecture and fails for names it has never seen.
installed() {
  local status
  status=$(dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null) || return 1
  grep -Eq '^[a-z]+ ok installed$' <<<"$status"
}

missing_packages() {
  local p
  missing=()
  for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
  done
}

missing_packages
if ((${#missing[@]} > 0)); then
  install_command="DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends"
  install_command+=" ${missing[*]}"
  if ((check_only)) || [[ $(id -u) -ne 0 ]]; then
    echo "setup: ${#missing[@]} of ${#packages[@]} packages missing: ${missing[*]}" >&2
    echo "setup: install them as root with:" >&2
    echo "  apt-get update && $install_command" >&2
    exit 1
  fi
  echo "setup: installing ${#missing[@]} missing packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Wait for another apt/dpkg (e.g. unattended-upgrades on a fresh VM) instead of failing.
  apt-get -o DPkg::Lock::Timeout=600 update </dev/null
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" </dev/null
  missing_packages
  if ((${#missing[@]} > 0)); then
    echo "setup: still missing after apt-get install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "setup: all ${#packages[@]} packages present"
