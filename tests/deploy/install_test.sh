#!/usr/bin/env bash
# `cmake --install` into a scratch prefix (ctest: deploy_install): the binaries run, the unit's
# ExecStart names the installed sluice-node, the sysusers entry (which systemd-sysusers, when
# present, would act on), example configs, scenarios and sweep scripts are where
# docs/operations.md says. With systemd-analyze present, the installed unit
# also passes `systemd-analyze verify` (ctest: deploy_systemd_verify runs only that, exit 77
# without systemd-analyze).
#
#   tests/deploy/install_test.sh [--verify-only] BUILD_DIR
set -uo pipefail

usage() { echo "usage: tests/deploy/install_test.sh [--verify-only] BUILD_DIR" >&2; exit 2; }
verify_only=0
if [[ ${1:-} == --help || ${1:-} == -h ]]; then echo "usage: tests/deploy/install_test.sh [--verify-only] BUILD_DIR"; exit 0; fi
if [[ ${1:-} == --verify-only ]]; then verify_only=1; shift; fi
(($# == 1)) || usage
build=$1
[[ -f $build/CMakeCache.txt ]] || { echo "install_test: $build is not a build tree" >&2; exit 2; }
if ((verify_only)) && ! command -v systemd-analyze > /dev/null; then
  echo "skip: no systemd-analyze"
  exit 77
fi

prefix=$(mktemp -d "${TMPDIR:-/tmp}/sluice-install.XXXXXX")
trap 'rm -rf "$prefix"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" > "$prefix.log" 2>&1 || { cat "$prefix.log" >&2; rm -f "$prefix.log"; fail "cmake --install"; }
rm -f "$prefix.log"
unit=$prefix/lib/systemd/system/sluice-node.service

if ((verify_only)); then
  # Offline: the unit's syntax, its directives and that ExecStart is an executable. The sluice
  # user need not exist here.
  out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify: $out"
  [[ -z $out ]] || fail "systemd-analyze verify warns: $out"
  echo "ok: systemd-analyze verify $unit"
  exit 0
fi

for bin in sluice-node sluice sluice-sim sluice-log; do
  [[ -x $prefix/bin/$bin ]] || fail "no $prefix/bin/$bin"
  "$prefix/bin/$bin" --help > /dev/null || fail "$bin --help exits $?"
done
[[ -f $unit ]] || fail "no $unit"
grep -qx "ExecStart=$prefix/bin/sluice-node --config /etc/sluice/sluice-node.conf" "$unit" ||
  fail "ExecStart does not name the installed binary: $(grep ExecStart "$unit")"
grep -qx "Type=notify" "$unit" || fail "the unit is not Type=notify"
[[ -f $prefix/lib/sysusers.d/sluice.conf ]] || fail "no sysusers.d/sluice.conf"
share=$prefix/share/sluice
for file in sluice-node.conf.example node.toml scenarios/cluster-smoke.toml scenarios/smoke.toml \
  deploy/k8s/sweep-job.yaml deploy/k8s/sweep-merge-job.yaml; do
  [[ -f $share/$file ]] || fail "no $share/$file"
done
for script in deploy/sweep-shard.sh deploy/slurm/sweep.sbatch; do
  [[ -x $share/$script ]] || fail "$share/$script is not executable"
done
"$share/deploy/sweep-shard.sh" --help > /dev/null || fail "installed sweep-shard.sh --help"
# systemd-sysusers finds the entry under <prefix>/lib/sysusers.d and would create the user (a dry
# run against a scratch root; /usr/local is one of its search paths, a scratch prefix is not).
if command -v systemd-sysusers > /dev/null; then
  root=$prefix/root
  mkdir -p "$root/etc"
  cp /etc/passwd /etc/group "$root/etc/"
  DESTDIR=$root cmake --install "$build" --prefix /usr/local > /dev/null || fail "DESTDIR install"
  out=$(systemd-sysusers --root="$root" --dry-run 2>&1)
  grep -q "Creating user 'sluice'" <<< "$out" || grep -q "^sluice:" /etc/passwd || fail "systemd-sysusers would not create sluice: $out"
fi
echo "ok: cmake --install: binaries, unit (ExecStart=$prefix/bin/sluice-node), sysusers, examples, scenarios, sweep scripts"
