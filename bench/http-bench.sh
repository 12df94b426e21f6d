#!/usr/bin/env bash
# HTTP front-end figure of issue 13: Debian's wrk, 1 thread / 50 keep-alive connections, against
# /healthz of one single-node sluice-node (one reactor), then against nginx serving the same tiny
# body through ../shared/peers/http/nginx_wrk.sh, in one run. Medians of RUNS runs of DURATION each.
# Prints (key=value, like sluice-bench's figures; docs/benchmarks.md, "HTTP front end"):
#   http.sluice_req_s=  http.sluice_p50_us=  http.sluice_p99_us=
#   http.nginx_req_s=   http.nginx_p50_us=   http.nginx_p99_us=
#   http.sluice_vs_nginx_ratio=          (goal >= 1.0)
# Loopback only. Needs wrk and nginx (bench-only packages: installed here with apt-get when run as
# root, else exit 77). Every process it starts is stopped and its temp dir removed on exit.
#
#   bench/http-bench.sh [RUNS=3] [DURATION=10s]      (SLUICE_NODE=path overrides build/bin/sluice-node)
set -euo pipefail

RUNS=${1:-3}
DUR=${2:-10s}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODE_BIN=${SLUICE_NODE:-$ROOT/build/bin/sluice-node}
NGINX_WRK=${NGINX_WRK:-$ROOT/../shared/peers/http/nginx_wrk.sh}
[[ -x $NGINX_WRK ]] || NGINX_WRK=/work/shared/peers/http/nginx_wrk.sh

need=()
command -v wrk > /dev/null || need+=(wrk)
command -v nginx > /dev/null || need+=(nginx)
if ((${#need[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get > /dev/null; then
    echo "# installing ${need[*]} (bench-only packages)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" > /dev/null 2>&1 || true
  fi
  for tool in wrk nginx; do
    command -v "$tool" > /dev/null || { echo "skip: $tool is missing and cannot be installed (apt-get install wrk nginx as root)"; exit 77; }
  done
fi
[[ -x $NODE_BIN ]] || { echo "error: no $NODE_BIN (tools/build.sh sluice-node)" >&2; exit 1; }
[[ -x $NGINX_WRK ]] || { echo "error: no nginx_wrk.sh (../shared/peers/http/nginx_wrk.sh)" >&2; exit 1; }
command -v curl > /dev/null || { echo "skip: curl is missing"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-http-bench.XXXXXX")
node_pid=
cleanup() {
  if [[ -n $node_pid ]]; then
    kill -TERM "$node_pid" 2> /dev/null || true
    for _ in $(seq 1 100); do kill -0 "$node_pid" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$node_pid" 2> /dev/null || true
    wait "$node_pid" 2> /dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Four free loopback ports (the kernel picks them; bound and released at once).
read -r p_swim p_raft p_rpc p_http < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')

"$NODE_BIN" --node-id 1 --controller-voters 1 --host 127.0.0.1 --data-dir "$work/data" \
  --port "$p_swim" --raft-port "$p_raft" --rpc-port "$p_rpc" --http-port "$p_http" \
  --anonymous admin --xdp off > "$work/node.log" 2>&1 &
node_pid=$!
url=http://127.0.0.1:$p_http/healthz
for i in $(seq 1 100); do
  curl -s -o /dev/null --max-time 1 "$url" && break
  kill -0 "$node_pid" 2> /dev/null || { echo "error: sluice-node exited:" >&2; cat "$work/node.log" >&2; exit 1; }
  ((i < 100)) || { echo "error: no /healthz within 10 s" >&2; cat "$work/node.log" >&2; exit 1; }
  sleep 0.1
done
echo "# sluice-node pid=$node_pid http=127.0.0.1:$p_http body=$(curl -s --max-time 1 "$url")  $(wrk -v 2>&1 | head -1 | cut -c1-40)  runs=$RUNS duration=$DUR"

# The median of RUNS wrk runs: "rps p50_us p99_us".
to_us() { awk '{ v = $1 + 0; if ($1 ~ /us$/) u = 1; else if ($1 ~ /ms$/) u = 1000; else if ($1 ~ /s$/) u = 1e6; else u = 1; printf "%.0f", v * u }' <<< "$1"; }
results=$work/sluice.txt
: > "$results"
for _ in $(seq 1 "$RUNS"); do
  out=$(timeout 120 wrk -t1 -c50 -d"$DUR" --latency "$url")
  rps=$(awk '/Requests\/sec/ {print $2}' <<< "$out")
  p50=$(awk '$1=="50%" {print $2}' <<< "$out")
  p99=$(awk '$1=="99%" {print $2}' <<< "$out")
  err=$(grep -E 'Non-2xx|Socket errors' <<< "$out" | tr '\n' ' ' || true)
  echo "RESULT sluice t=1 c=50 rps=$rps p50=$p50 p99=$p99 $err"
  echo "$rps $(to_us "$p50") $(to_us "$p99")" >> "$results"
done
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
s_rps=$(cut -d' ' -f1 "$results" | median)
s_p50=$(cut -d' ' -f2 "$results" | median)
s_p99=$(cut -d' ' -f3 "$results" | median)

# Stop the node before nginx runs: the two never share the CPUs.
kill -TERM "$node_pid"
status=0
wait "$node_pid" || status=$?
node_pid=
((status == 0)) || echo "# warning: sluice-node exited with $status after SIGTERM" >&2

# nginx the way the peers measure it (its own script, unchanged); its -t1 -c50 median line:
#   MEDIAN wrk -t1 -c50: N req/s p50=Nus p99=Nus runs=[...]
"$NGINX_WRK" "$RUNS" "$DUR" > "$work/nginx.txt" || { cat "$work/nginx.txt"; echo "error: nginx_wrk.sh failed" >&2; exit 1; }
cat "$work/nginx.txt"
line=$(grep -E '^MEDIAN wrk -t1 -c50:' "$work/nginx.txt") || { echo "error: no MEDIAN line from nginx_wrk.sh" >&2; exit 1; }
n_rps=$(sed -E 's/.*: ([0-9.]+) req\/s.*/\1/' <<< "$line")
n_p50=$(sed -E 's/.* p50=([0-9.]+)us.*/\1/' <<< "$line")
n_p99=$(sed -E 's/.* p99=([0-9.]+)us.*/\1/' <<< "$line")

printf 'http.sluice_req_s=%.0f\nhttp.sluice_p50_us=%s\nhttp.sluice_p99_us=%s\n' "$s_rps" "$s_p50" "$s_p99"
printf 'http.nginx_req_s=%.0f\nhttp.nginx_p50_us=%s\nhttp.nginx_p99_us=%s\n' "$n_rps" "$n_p50" "$n_p99"
awk -v s="$s_rps" -v n="$n_rps" 'BEGIN { printf "http.sluice_vs_nginx_ratio=%.3f\n", (n > 0 ? s / n : 0) }'
