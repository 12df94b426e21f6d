#!/usr/bin/env bash
# Root-only XDP/sk_lookup integration test (ctest: xdp_netns_test, SKIP_RETURN_CODE 77).
#
#   tests/xdp/netns_test.sh XDP_STEERING_CHECK SLUICE_NODE
#
# Creates two network namespaces joined by a veth pair (10.213.0.1/30 and 10.213.0.2/30, which
# exist only inside them), then:
#   1. xdp_steering_check in namespace A: SWIM datagrams from B reach the membership socket
#      through the steering, malformed ones are dropped and counted at XDP, TCP partition
#      traffic passes intact (see tests/xdp/steering_check.cc);
#   2. two sluice-node processes, one per namespace, with --xdp=on: each sees the other join;
#      malformed datagrams sent to A are dropped at XDP (counted, never reaching SWIM); B leaves
#      on SIGTERM and A sees it leave; both exit 0.
# The namespaces (and with them the veth pair) are removed on every exit path. Exit 77 when not
# root or when network namespaces cannot be created here.
set -uo pipefail

check_bin=${1:?usage: netns_test.sh XDP_STEERING_CHECK SLUICE_NODE}
node_bin=${2:?usage: netns_test.sh XDP_STEERING_CHECK SLUICE_NODE}
port=7946
partition_port=8080
a_ip=10.213.0.1
b_ip=10.213.0.2

if [[ $(id -u) -ne 0 ]]; then
  echo "skip: needs root (network namespaces, XDP, sk_lookup)"
  exit 77
fi

suffix=$$
ns_a=sluice-xdp-a-$suffix
ns_b=sluice-xdp-b-$suffix
veth_a=sxa$suffix  # interface names are at most 15 bytes
veth_b=sxb$suffix
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-xdp-test.XXXXXX")
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  wait 2>/dev/null
  ip netns del "$ns_a" 2>/dev/null
  ip netns del "$ns_b" 2>/dev/null
  ip link del "$veth_a" 2>/dev/null  # only if it never made it into the namespace
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
  echo "FAIL: $*" >&2
  for log in "$work"/*.log; do [[ -f $log ]] && { echo "--- $log"; cat "$log"; } >&2; done
  exit 1
}

if ! ip netns add "$ns_a" 2>/dev/null; then
  echo "skip: cannot create network namespaces here"
  exit 77
fi
ip netns add "$ns_b" || fail "ip netns add $ns_b"
ip link add "$veth_a" type veth peer name "$veth_b" || fail "ip link add veth"
ip link set "$veth_a" netns "$ns_a" && ip link set "$veth_b" netns "$ns_b" || fail "moving the veth ends"
ip -n "$ns_a" addr add "$a_ip/30" dev "$veth_a" && ip -n "$ns_b" addr add "$b_ip/30" dev "$veth_b" || fail "addresses"
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up || fail "lo up"; done
ip -n "$ns_a" link set "$veth_a" up && ip -n "$ns_b" link set "$veth_b" up || fail "veth up"

# --- 1. steering, drops and partition traffic, with a test program ---
ip netns exec "$ns_a" "$check_bin" --interface "$veth_a" --host "$a_ip" --port "$port" \
  --partition-port "$partition_port" --peer-netns "/var/run/netns/$ns_b" > "$work/check.log" 2>&1 ||
  fail "xdp_steering_check"
cat "$work/check.log"
# The programs were bpf_links of that process: gone with it.
ip -n "$ns_a" link show "$veth_a" | grep -q 'prog/xdp' && fail "XDP program still attached after the check exited"

# --- 2. two sluice-node processes see each other ---
start_node() {  # name netns host [seed]
  local name=$1 ns=$2 host=$3 seed=${4:-}
  # exec: $! is then the node itself (ip netns exec execs too), the process signals must reach.
  exec ip netns exec "$ns" "$node_bin" --host "$host" --port "$port" --data-dir "$work/$name" --xdp=on \
    --partition-port "$partition_port" ${seed:+--seed "$seed"} > "$work/$name.log" 2>&1
}
wait_for_line() {  # log pattern seconds
  local deadline=$((SECONDS + $3))
  until grep -qs -- "$2" "$1"; do
    ((SECONDS < deadline)) || fail "no '$2' in $1 within $3 s"
    sleep 0.1
  done
}

start_node a "$ns_a" "$a_ip" &
pids+=($!)
wait_for_line "$work/a.log" "event=start" 5
start_node b "$ns_b" "$b_ip" "$a_ip:$port" &
pids+=($!)
pid_a=${pids[0]}
pid_b=${pids[1]}
grep -q "kind=steered" "$work/a.log" || fail "node a is not on the steered socket"
wait_for_line "$work/a.log" "event=member_joined member=$b_ip:$port" 15
wait_for_line "$work/b.log" "event=member_joined member=$a_ip:$port" 15
grep -q "kind=steered" "$work/b.log" || fail "node b is not on the steered socket"

# Five datagrams with a bad magic to node a's membership port, from namespace b.
ip netns exec "$ns_b" python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(5): s.sendto(b'XWIM\x01\x00\x00\x04abcd', ('$a_ip', $port))
" || fail "sending malformed datagrams"

kill -TERM "$pid_b"
wait "$pid_b" || fail "node b exited with $?"
wait_for_line "$work/a.log" "event=member_left member=$b_ip:$port" 10
kill -TERM "$pid_a"
wait "$pid_a" || fail "node a exited with $?"
pids=()
cat "$work/a.log" "$work/b.log"

stop_line=$(grep "event=stop" "$work/a.log") || fail "node a printed no stop line"
for want in xdp_drops=5 xdp_membership_malformed_packets=5 swim_dropped_bad_header=0; do
  [[ " $stop_line " == *" $want "* ]] || fail "node a: want $want in: $stop_line"
done
steered=$(sed -n 's/.* xdp_steered=\([0-9]*\).*/\1/p' <<< "$stop_line")
received=$(sed -n 's/.* swim_datagrams_received=\([0-9]*\).*/\1/p' <<< "$stop_line")
# Every datagram SWIM read came through the steering (one steered just before the socket closed
# may go unread, hence >=).
((received > 0 && steered >= received)) || fail "node a: steered=$steered but SWIM received $received datagrams"
echo "ok: two sluice-node processes joined through steered membership sockets; 5 malformed datagrams dropped at XDP"
