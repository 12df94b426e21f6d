#!/usr/bin/env bash
# The console page (GET /, node/server/console.cc) in headless Chromium against three real
# sluice-node processes (ctest: console_e2e_test, label e2e; issue 13, "Console"):
#   - three nodes on 127.0.0.1 (all controller voters, --anonymous admin, each its own ports);
#   - a topic with 3 partitions × 3 replicas created with curl; /readyz on all three and a leader
#     for every partition (as /v1/topics/NAME says) before the browser starts;
#   - `chromium --headless=new --dump-dom` of node 2's / (the page fetches /v1/cluster, /v1/topics
#     and the topic from the node that served it), and the dumped DOM must hold
#     <section data-topic="NAME"> with 3 rows tr[data-partition] (partitions 0, 1, 2) whose
#     data-leader is a node 1..3 and whose leader cell says the same, and #members with the
#     three nodes (tr[data-node] 1, 2, 3).
# No screenshot is taken; nothing is written outside a temp dir, which is removed on exit with
# every node stopped. Skips (77) without chromium, curl or python3. About 10 s.
#
#   tests/e2e/console_test.sh SLUICE_NODE
set -uo pipefail

node_bin=${1:?usage: console_test.sh SLUICE_NODE}
topic=console-orders
for tool in chromium curl python3; do
  command -v "$tool" > /dev/null || { echo "skip: no $tool (Debian package $tool)"; exit 77; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-console.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2> /dev/null; done
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2> /dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2> /dev/null; done
  wait 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
  echo "FAIL: $*" >&2
  for log in "$work"/*.log; do [[ -f $log ]] && { echo "--- $log"; tail -n 40 "$log"; } >&2; done
  exit 1
}

# Twelve free loopback ports, picked by the kernel (bound and released together).
read -r -a ports < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(12)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
port() { echo "${ports[$((($1 - 1) * 4 + $2))]}"; }  # node kind: 0 swim, 1 raft, 2 rpc, 3 http
http() { echo "http://127.0.0.1:$(port "$1" 3)"; }

for id in 1 2 3; do
  args=(--node-id "$id" --host 127.0.0.1 --data-dir "$work/n$id" --port "$(port "$id" 0)"
        --raft-port "$(port "$id" 1)" --rpc-port "$(port "$id" 2)" --http-port "$(port "$id" 3)"
        --controller-voters "1,2,3" --anonymous admin --xdp off)
  ((id == 1)) || args+=(--seed "127.0.0.1:$(port 1 0)")
  "$node_bin" "${args[@]}" > "$work/n$id.log" 2>&1 &
  pids+=($!)
done

# until CMD... succeeds, at most $1 seconds.
within() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    for pid in "${pids[@]}"; do kill -0 "$pid" 2> /dev/null || fail "a node exited (pid $pid)"; done
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
status_of() { curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$@"; }
all_ready() {
  for id in 1 2 3; do [[ $(status_of "$(http "$id")/readyz") == 200 ]] || return 1; done
}
create_topic() {
  local code
  code=$(curl -s -o "$work/create.json" --max-time 5 -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"name\":\"$topic\",\"partitions\":3,\"replication\":3}" "$(http 1)/v1/topics")
  [[ $code == 201 || $code == 409 ]]
}
# Every partition of the topic has a leader in 1..3, as node 2 describes it.
leaders_known() {
  curl -s --max-time 2 "$(http 2)/v1/topics/$topic" > "$work/describe.json" || return 1
  python3 - "$work/describe.json" << 'PY'
import json, sys
t = json.load(open(sys.argv[1]))
ps = t.get("partitions", [])
sys.exit(0 if len(ps) == 3 and all(p.get("leader") in (1, 2, 3) for p in ps) else 1)
PY
}

within 30 all_ready || fail "the nodes not ready within 30 s"
within 20 create_topic || fail "topic not created within 20 s: $(cat "$work/create.json" 2> /dev/null)"
within 30 all_ready || fail "the nodes not ready within 30 s of the topic's creation"
within 30 leaders_known || fail "no leader for every partition within 30 s: $(cat "$work/describe.json" 2> /dev/null)"

page=$(http 2)/
[[ $(status_of "$page") == 200 ]] || fail "GET / is not 200"
# --virtual-time-budget: the page's first refresh (fetches and DOM) completes before the dump.
# As root Chromium needs --no-sandbox; its profile, cache and crash dumps stay in $work.
mkdir -p "$work/chrome"
HOME=$work/chrome timeout 90 chromium --headless=new --disable-gpu --no-sandbox --disable-dev-shm-usage \
  --no-first-run --no-default-browser-check --disable-extensions --user-data-dir="$work/chrome/profile" \
  --crash-dumps-dir="$work/chrome/crash" --virtual-time-budget=8000 --dump-dom "$page" \
  > "$work/dom.html" 2> "$work/chromium.log"
status=$?
((status == 0)) || fail "chromium exited with $status: $(tail -n 20 "$work/chromium.log")"
[[ -s $work/dom.html ]] || fail "chromium dumped no DOM: $(tail -n 20 "$work/chromium.log")"

python3 - "$work/dom.html" "$topic" << 'PY' || fail "the console's DOM (above) does not show the cluster"
import sys
from html.parser import HTMLParser

dom_path, topic = sys.argv[1], sys.argv[2]
dom = open(dom_path, encoding="utf-8").read()

class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack = []          # open elements: (tag, attrs)
        self.members = []        # data-node of the rows under #members
        self.sections = {}       # data-topic -> [row dicts]
        self.row = None          # the partition row being read: {"attrs", "cells"}
        self.cell = None
    def within(self, pred):
        return any(pred(tag, attrs) for tag, attrs in self.stack)
    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-node" in attrs and self.within(lambda t, a: a.get("id") == "members"):
            self.members.append(attrs["data-node"])
        if tag == "section" and "data-topic" in attrs:
            self.sections.setdefault(attrs["data-topic"], [])
        if tag == "tr" and "data-partition" in attrs:
            owner = [a["data-topic"] for t, a in self.stack if t == "section" and "data-topic" in a]
            self.row = {"attrs": attrs, "cells": [], "topic": owner[-1] if owner else None}
        if tag == "td" and self.row is not None:
            self.cell = []
        self.stack.append((tag, attrs))
    def handle_endtag(self, tag):
        while self.stack:
            open_tag, _ = self.stack.pop()
            if open_tag == tag:
                break
        if tag == "td" and self.row is not None and self.cell is not None:
            self.row["cells"].append("".join(self.cell).strip())
            self.cell = None
        if tag == "tr" and self.row is not None:
            if self.row["topic"] is not None:
                self.sections[self.row["topic"]].append(self.row)
            self.row = None
    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)

page = Page()
page.feed(dom)
errors = []
if sorted(page.members) != ["1", "2", "3"]:
    errors.append(f"#members lists nodes {page.members}, want 1, 2, 3")
rows = page.sections.get(topic)
if rows is None:
    errors.append(f'no <section data-topic="{topic}"> (sections: {sorted(page.sections)})')
else:
    partitions = sorted(r["attrs"]["data-partition"] for r in rows)
    if partitions != ["0", "1", "2"]:
        errors.append(f"partition rows {partitions}, want 0, 1, 2")
    for r in rows:
        p, leader = r["attrs"]["data-partition"], r["attrs"].get("data-leader")
        if leader not in ("1", "2", "3"):
            errors.append(f"partition {p}: data-leader={leader!r}, want a node 1..3")
        if len(r["cells"]) < 2 or r["cells"][1] != leader:
            errors.append(f"partition {p}: leader cell {r['cells'][1:2]} differs from data-leader={leader!r}")
    print("console: topic", topic, "leaders", {r["attrs"]["data-partition"]: r["attrs"].get("data-leader") for r in rows})
print("console: members", page.members)
if errors:
    print(dom, file=sys.stderr)
    for e in errors:
        print("DOM:", e, file=sys.stderr)
    sys.exit(1)
PY

# The nodes end cleanly on SIGTERM.
for i in 0 1 2; do
  kill -TERM "${pids[$i]}" 2> /dev/null
done
for i in 0 1 2; do
  wait "${pids[$i]}"
  status=$?
  ((status == 0)) || fail "node $((i + 1)) exited with $status after SIGTERM"
done
pids=()
echo "PASS: the console shows $topic's 3 partitions with their leaders and the 3 members"
