#!/usr/bin/env bash
# sluice-node without BPF privileges (ctest: xdp_node_fallback_test; needs no root):
#   - --xdp=auto falls back to the plain UDP socket with exactly one line saying why, two nodes on
#     127.0.0.1 still see each other join, and SIGINT / SIGTERM end them with exit 0;
#   - --xdp=on refuses to start (exit 1) and says why on stderr;
#   - usage errors exit 2.
# As root the nodes run as `nobody` (setpriv), so the fallback path is what runs here too.
#
#   tests/xdp/node_fallback_test.sh SLUICE_NODE
set -uo pipefail

node_bin=${1:?usage: node_fallback_test.sh SLUICE_NODE}
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-node-fallback.XXXXXX")
chmod 777 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

unprivileged=()
if [[ $(id -u) -eq 0 ]]; then
  command -v setpriv > /dev/null || { echo "skip: root and no setpriv to drop privileges"; exit 77; }
  unprivileged=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi

fail() {
  echo "FAIL: $*" >&2
  for log in "$work"/*.log; do [[ -f $log ]] && { echo "--- $log"; cat "$log"; } >&2; done
  exit 1
}
wait_for_line() {  # log pattern seconds
  local deadline=$((SECONDS + $3))
  until grep -qs -- "$2" "$1"; do
    ((SECONDS < deadline)) || fail "no '$2' in $1 within $3 s"
    sleep 0.1
  done
}

# Two ports unlikely to collide with a concurrent run, and with their Raft, RPC and HTTP ports
# (+3000, +6000, +9000) all below 32768, where Linux's ephemeral range starts: a port in that range
# may be taken by any outgoing connection of a concurrent test (seen: the HTTP port in use).
port_a=$((20000 + ($$ % 1000) * 2))
port_b=$((port_a + 1))
node() {  # name port [args...]
  local name=$1 port=$2
  shift 2
  # exec: $! is then the node itself (setpriv execs too), the process the signals must reach.
  # Each node its own Raft, RPC and HTTP ports too (the defaults would be shared on one host).
  exec "${unprivileged[@]}" "$node_bin" --host 127.0.0.1 --port "$port" --raft-port $((port + 3000)) --rpc-port $((port + 6000)) \
    --http-port $((port + 9000)) --data-dir "$work/$name" "$@"
}

node a "$port_a" > "$work/a.log" 2>&1 &
pids+=($!)
wait_for_line "$work/a.log" "event=start" 5
node b "$port_b" --seed "127.0.0.1:$port_a" > "$work/b.log" 2>&1 &
pids+=($!)
wait_for_line "$work/a.log" "event=member_joined member=127.0.0.1:$port_b" 15
wait_for_line "$work/b.log" "event=member_joined member=127.0.0.1:$port_a" 15
# Members are known by node id: b's own (its start line) is the one a reports.
id_b=$(sed -n 's/^ts=[^ ]* level=info event=start .* node_id=\([0-9]*\) .*/\1/p' "$work/b.log")
[[ -n $id_b && $id_b != 0 ]] || fail "node b: no node_id on its start line"
grep -q "event=member_joined member=127.0.0.1:$port_b member_id=$id_b " "$work/a.log" || fail "node a: b joined without member_id=$id_b"
for name in a b; do
  lines=$(grep -c "event=membership_socket" "$work/$name.log")
  [[ $lines -eq 1 ]] || fail "node $name: $lines membership_socket lines, want 1"
  grep -q 'event=membership_socket kind=udp reason="[a-z_]*: ' "$work/$name.log" || fail "node $name: no fallback reason"
done
kill -INT "${pids[1]}"
wait "${pids[1]}" || fail "node b: exit $? after SIGINT"
kill -TERM "${pids[0]}"
wait "${pids[0]}" || fail "node a: exit $? after SIGTERM"
pids=()
grep -q "event=stop" "$work/a.log" && grep -q "event=stop" "$work/b.log" || fail "no stop lines"
# Every line is a log line (docs/operations.md, "Log lines"): ts, level, event first, then keys.
log_line='^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z level=(info|warn|error) event=[a-z_]+( [a-z0-9_]+=("([^"\\]|\\.)*"|[^" ]*))*$'
[[ $(grep -c . "$work/a.log") -eq $(grep -cE "$log_line" "$work/a.log") ]] ||
  fail "node a: a line that is not ts= level= event= key=value: $(grep -vE "$log_line" "$work/a.log" | head -3)"

(node c "$port_a" --xdp=on > "$work/c.log" 2>&1)
status=$?
((status == 1)) || fail "--xdp=on without BPF: exit $status, want 1"
grep -q "sluice-node: --xdp=on but BPF steering is unavailable: " "$work/c.log" || fail "--xdp=on: no reason"

"$node_bin" --xdp=sometimes > /dev/null 2>&1
status=$?
((status == 2)) || fail "bad --xdp value: exit $status, want 2"
"$node_bin" --seed nohost > /dev/null 2>&1
status=$?
((status == 2)) || fail "bad --seed: exit $status, want 2"
cat "$work/a.log"
echo "ok: fallback to UDP with one line, join, clean exits, --xdp=on refused, usage errors exit 2"
