#!/usr/bin/env bash
# Issue 14's produce figure: three local sluice-node processes (RF 3, acknowledgement after a
# quorum fsynced), loaded by `sluice bench produce` with 1 KiB records:
#   async: --producers K over P partitions (buffered producer, batches, idempotent): msg_s, MB/s,
#          send-to-ack latency percentiles;
#   sync:  one producer waiting for each record's ack before the next (latency of one record).
# Prints the CLI's figures prefixed produce.async_ / produce.sync_ (key=value), and the CPU the three
# nodes used during each run (produce.async_node_cpu_ticks=, produce.sync_node_cpu_ticks=, in
# clock ticks: produce.clock_ticks_per_s=). Loopback only;
# every node it starts is stopped and its temp dir removed on exit.
#
#   bench/produce-bench.sh [RECORDS=100000] [PARTITIONS=3] [PRODUCERS=1] [SYNC_RECORDS=2000]
#   (SLUICE_NODE / SLUICE_CLI override build/bin/sluice-node and build/bin/sluice)
set -euo pipefail

RECORDS=${1:-100000}
PARTITIONS=${2:-3}
PRODUCERS=${3:-1}
SYNC_RECORDS=${4:-2000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODE_BIN=${SLUICE_NODE:-$ROOT/build/bin/sluice-node}
CLI_BIN=${SLUICE_CLI:-$ROOT/build/bin/sluice}
for bin in "$NODE_BIN" "$CLI_BIN"; do
  [[ -x $bin ]] || { echo "error: no $bin (tools/build.sh sluice-node sluice)" >&2; exit 1; }
done
command -v curl > /dev/null || { echo "skip: curl is missing"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-produce-bench.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# 12 free loopback ports (the kernel picks them; bound and released at once): 4 a node.
read -r -a ports < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(12)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')

brokers=
for i in 1 2 3; do
  base=$(((i - 1) * 4))
  "$NODE_BIN" --node-id "$i" --cluster-id 7 --controller-voters 1,2,3 --host 127.0.0.1 \
    --data-dir "$work/n$i" --port "${ports[base]}" --raft-port "${ports[base + 1]}" \
    --rpc-port "${ports[base + 2]}" --http-port "${ports[base + 3]}" --seed "127.0.0.1:${ports[0]}" \
    --anonymous admin --xdp off > "$work/n$i.log" 2>&1 &
  pids+=($!)
  brokers+="${brokers:+,}127.0.0.1:${ports[base + 3]}"
done
for i in 1 2 3; do
  url=http://127.0.0.1:${ports[(i - 1) * 4 + 3]}/readyz
  for attempt in $(seq 1 300); do
    curl -sf -o /dev/null --max-time 1 "$url" && break
    ((attempt < 300)) || { echo "error: node $i not ready within 30 s" >&2; tail -20 "$work/n$i.log" >&2; exit 1; }
    sleep 0.1
  done
done
echo "# 3 nodes ready: $brokers  records=$RECORDS partitions=$PARTITIONS producers=$PRODUCERS record_bytes=1024 nproc=$(nproc) load=$(cut -d' ' -f1 /proc/loadavg)"

export SLUICE_BROKERS=$brokers
# Ready nodes may not all be registered with the controller yet: create the topics until it takes.
for topic in bench-async:$PARTITIONS bench-sync:1; do
  for attempt in $(seq 1 100); do
    out=$("$CLI_BIN" topic create "${topic%%:*}" --partitions "${topic##*:}" --replication 3 2>&1) && break
    ((attempt < 100)) || { echo "error: topic ${topic%%:*}: $out" >&2; exit 1; }
    sleep 0.2
  done
done
# CPU the three nodes used (user + system, in clock ticks of 1/$(getconf CLK_TCK) s) over a run.
node_ticks() {
  local total=0 pid fields
  for pid in "${pids[@]}"; do
    read -r -a fields < <(cut -d' ' -f14,15 "/proc/$pid/stat")
    total=$((total + fields[0] + fields[1]))
  done
  echo "$total"
}
ticks_before=$(node_ticks)
"$CLI_BIN" bench produce --topic bench-async --records "$RECORDS" --record-bytes 1024 --partitions "$PARTITIONS" \
  --replication 3 --producers "$PRODUCERS" | tr ' ' '\n' | grep = | sed 's/^/produce.async_/'
ticks_between=$(node_ticks)
echo "produce.async_node_cpu_ticks=$((ticks_between - ticks_before))"
"$CLI_BIN" bench produce --topic bench-sync --records "$SYNC_RECORDS" --record-bytes 1024 --partitions 1 \
  --replication 3 --producers 1 --sync | tr ' ' '\n' | grep = | sed 's/^/produce.sync_/'
echo "produce.sync_node_cpu_ticks=$(($(node_ticks) - ticks_between))"
echo "produce.clock_ticks_per_s=$(getconf CLK_TCK)"
