#!/usr/bin/env bash
# The capability set of deploy/systemd/sluice-node.service is enough for XDP steering (ctest:
# deploy_xdp_capabilities; root only, exit 77 otherwise): sluice-node as user nobody with exactly
# CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (ambient and bounding, as the unit grants them) and
# --xdp=on attaches the classifier and sk_lookup program, in a network namespace this test makes.
# Not covered: the unit's system-call filter and sandboxing (no systemd here).
#
#   tests/deploy/xdp_capabilities_test.sh SLUICE_NODE
set -uo pipefail

if [[ ${1:-} == --help || ${1:-} == -h ]]; then echo "usage: tests/deploy/xdp_capabilities_test.sh SLUICE_NODE"; exit 0; fi
(($# == 1)) || { echo "usage: tests/deploy/xdp_capabilities_test.sh SLUICE_NODE" >&2; exit 2; }
node_bin=$1
[[ $(id -u) -eq 0 ]] || { echo "skip: needs root"; exit 77; }
if ! command -v setpriv > /dev/null || ! command -v ip > /dev/null; then echo "skip: needs setpriv and ip"; exit 77; fi
caps=$(sed -n 's/^AmbientCapabilities=//p' "$(dirname "$0")/../../deploy/systemd/sluice-node.service")
[[ -n $caps ]] || { echo "FAIL: the unit grants no AmbientCapabilities" >&2; exit 1; }
# "CAP_BPF CAP_NET_ADMIN" -> "+bpf,+net_admin"
set_caps=-all$(for cap in $caps; do printf ',+%s' "$(tr '[:upper:]' '[:lower:]' <<< "${cap#CAP_}")"; done)

ns=sluice-caps-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-xdp-caps.XXXXXX")
chmod 777 "$work"
pid=""
cleanup() {
  [[ -n $pid ]] && kill -KILL "$pid" 2> /dev/null
  wait 2> /dev/null
  ip netns del "$ns" 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; cat "$work/node.log" >&2; exit 1; }

ip netns add "$ns" || { echo "skip: cannot create a network namespace"; exit 77; }
ip -n "$ns" link set lo up
ip netns exec "$ns" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps="$set_caps" \
  --ambient-caps="$set_caps" --bounding-set="$set_caps" \
  "$node_bin" --host 127.0.0.1 --port 7946 --data-dir "$work/data" --xdp on > "$work/node.log" 2>&1 &
pid=$!
deadline=$((SECONDS + 15))
until grep -q "event=start" "$work/node.log"; do
  kill -0 "$pid" 2> /dev/null || { wait "$pid"; fail "sluice-node exited with $? (capabilities: $caps)"; }
  ((SECONDS < deadline)) || fail "no start line within 15 s"
  sleep 0.1
done
grep -q "event=membership_socket kind=steered" "$work/node.log" || fail "not steered with $caps"
kill -TERM "$pid"
wait "$pid" || fail "exit $? after SIGTERM"
pid=""
echo "ok: as nobody with only $caps, --xdp=on steers membership datagrams"
