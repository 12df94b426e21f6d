#!/usr/bin/env python3
"""sluice-node's service-manager readiness (systemd Type=notify, docs/operations.md), end to end.

Runs sluice-node with NOTIFY_SOCKET naming a unix datagram socket this test bound, once as a path
and once as an abstract socket ('@name'), and checks:
  - READY=1 arrives, and by then the node serves: its HTTP port accepts a connection and its log
    has the start line;
  - on SIGTERM, STOPPING=1 arrives, the node logs event=leaving and exits 0;
  - nothing else is sent.

  tests/deploy/systemd_notify_test.py SLUICE_NODE

Exit codes: 0 passed, 1 failed, 2 usage error, 77 skipped (no loopback ports).
"""

import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time

READY_WAIT_S = 20
STOP_WAIT_S = 15
PORTS_PER_NODE = 4  # membership, raft, rpc, http
PORT_MIN = 10000


def usage_error(message):
    print(f"systemd_notify_test: {message}\nusage: systemd_notify_test.py SLUICE_NODE", file=sys.stderr)
    sys.exit(2)


def can_bind(kind, port):
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_ports():
    """Four consecutive ports free for TCP and UDP below the ephemeral range (as node_process.cc)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            limit = int(f.read().split()[0])
    except (OSError, ValueError):
        limit = 32768
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        base = rng.randrange(PORT_MIN, limit - PORTS_PER_NODE)
        if all(can_bind(socket.SOCK_STREAM, p) and can_bind(socket.SOCK_DGRAM, p) for p in range(base, base + PORTS_PER_NODE)):
            return base
    return None


def receive(sock, deadline_s, node):
    """The next datagram, or None after the deadline or when the node exited first."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        sock.settimeout(0.2)
        try:
            return sock.recv(4096).decode()
        except socket.timeout:
            if node.poll() is not None:
                try:
                    sock.settimeout(0.1)
                    return sock.recv(4096).decode()
                except socket.timeout:
                    return None
    return None


def http_accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def run_once(node_bin, work, abstract):
    label = "abstract" if abstract else "path"
    base = free_ports()
    if base is None:
        print("skip: no free loopback ports")
        sys.exit(77)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"sluice-notify-test-{os.getpid()}-{time.monotonic_ns()}"
        sock.bind("\0" + name)
        notify_socket = "@" + name
    else:
        notify_socket = os.path.join(work, "notify.sock")
        sock.bind(notify_socket)
    log_path = os.path.join(work, f"node-{label}.log")
    args = [node_bin, "--host", "127.0.0.1", "--port", str(base), "--raft-port", str(base + 1),
            "--rpc-port", str(base + 2), "--http-port", str(base + 3), "--xdp", "off",
            "--data-dir", os.path.join(work, f"data-{label}")]
    env = dict(os.environ, NOTIFY_SOCKET=notify_socket)
    failures = []
    with open(log_path, "w") as log:
        node = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        ready = receive(sock, READY_WAIT_S, node)
        if ready != "READY=1":
            failures.append(f"{label}: first notification {ready!r}, want 'READY=1'")
            return failures + [f"{label}: log:\n{open(log_path).read()}"]
        if not http_accepts(base + 3):
            failures.append(f"{label}: READY=1 but the HTTP port {base + 3} refuses connections")
        with open(log_path) as f:
            if " event=start " not in f.read():
                failures.append(f"{label}: READY=1 before the start line")
        node.send_signal(signal.SIGTERM)
        stopping = receive(sock, STOP_WAIT_S, node)
        if stopping != "STOPPING=1":
            failures.append(f"{label}: after SIGTERM {stopping!r}, want 'STOPPING=1'")
        try:
            code = node.wait(timeout=STOP_WAIT_S)
            if code != 0:
                failures.append(f"{label}: exit {code} after SIGTERM, want 0")
        except subprocess.TimeoutExpired:
            failures.append(f"{label}: still running {STOP_WAIT_S} s after SIGTERM")
        sock.settimeout(0.2)
        try:
            extra = sock.recv(4096).decode()
            failures.append(f"{label}: unexpected notification {extra!r}")
        except socket.timeout:
            pass
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
        sock.close()
        if not abstract:
            os.unlink(notify_socket)
    with open(log_path) as f:
        text = f.read()
    if not failures and "event=leaving signal=SIGTERM" not in text:
        failures.append(f"{label}: no event=leaving line")
    if failures:
        print(f"--- {log_path}\n{text}", file=sys.stderr)
    return failures


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        if len(sys.argv) == 2:
            print(__doc__.strip())
            return 0
        usage_error("expected one argument")
    node_bin = sys.argv[1]
    if not os.access(node_bin, os.X_OK):
        usage_error(f"{node_bin}: not an executable")
    with tempfile.TemporaryDirectory(prefix="sluice-notify-") as work:
        failures = run_once(node_bin, work, abstract=False) + run_once(node_bin, work, abstract=True)
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    if failures:
        return 1
    print("ok: READY=1 once serving, STOPPING=1 on SIGTERM, exit 0 (path and abstract NOTIFY_SOCKET)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
