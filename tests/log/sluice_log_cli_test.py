#!/usr/bin/env python3
"""End-to-end checks of the sluice-log command line on the real file system: append, dump, verify,
damage detection (one flipped byte names its segment file and byte offset), exit codes.

Usage: sluice_log_cli_test.py SLUICE_LOG
"""
import os
import re
import subprocess
import sys
import tempfile

failures = []
checks = [0]


def run(args, stdin=""):
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=120)


def check(condition, what, result=None):
    checks[0] += 1
    if not condition:
        detail = ""
        if result is not None:
            detail = f"\n  exit={result.returncode}\n  stdout={result.stdout[-2000:]}\n  stderr={result.stderr[-2000:]}"
        failures.append(what + detail)


def figures(stdout):
    return dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line and " " not in line.split("=", 1)[0])


def segment_files(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".log"))


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    tool = sys.argv[1]
    lines = "".join(f"record number {i} " + "x" * (i % 50) + "\n" for i in range(3000))
    with tempfile.TemporaryDirectory(prefix="sluice-log-cli-") as tmp:
        log_dir = os.path.join(tmp, "log")
        appended = run([tool, "append", log_dir, "--segment-bytes", "32768", "--batch-records", "50"], lines)
        check(appended.returncode == 0, "append exits 0", appended)
        f = figures(appended.stdout)
        check(f.get("records") == "3000" and f.get("batches") == "60" and f.get("end_offset") == "3000",
              "append reports records=3000 batches=60 end_offset=3000", appended)
        check(int(f.get("segments", "0")) >= 3, "a small segment size gives several segments", appended)

        more = run([tool, "append", log_dir, "--segment-bytes", "32768"], "one\ntwo\n")
        check(more.returncode == 0 and figures(more.stdout).get("first_offset") == "3000"
              and figures(more.stdout).get("end_offset") == "3002", "a second append continues the offsets", more)

        verified = run([tool, "verify", log_dir])
        check(verified.returncode == 0, "verify of an intact log exits 0", verified)
        vf = figures(verified.stdout)
        check(vf.get("result") == "ok" and vf.get("records") == "3002", "verify reports result=ok records=3002", verified)

        dumped = run([tool, "dump", log_dir])
        check(dumped.returncode == 0, "dump exits 0", dumped)
        check(dumped.stdout.count("  batch ") == 61, "dump lists every batch", dumped)
        check("base_offset=3000 last_offset=3001 records=2" in dumped.stdout, "dump shows offsets of the last batch", dumped)
        with_records = run([tool, "dump", log_dir, "--records"])
        check('value="record number 7 xxxxxxx"' in with_records.stdout, "dump --records shows values", with_records)

        # One flipped byte in the middle of the first (sealed) segment.
        first = segment_files(log_dir)[0]
        path = os.path.join(log_dir, first)
        data = bytearray(open(path, "rb").read())
        middle = len(data) // 2
        data[middle] ^= 0x20
        open(path, "wb").write(bytes(data))
        damaged = run([tool, "verify", log_dir])
        check(damaged.returncode == 1, "verify of a damaged log exits 1", damaged)
        match = re.search(r"^damage file=(\S+) position=(\d+) what=\"(.*)\"$", damaged.stdout, re.MULTILINE)
        check(match is not None, "verify prints a damage line", damaged)
        if match:
            check(match.group(1) == first, f"the damage names {first}", damaged)
            position = int(match.group(2))
            span = re.search(r"batch at bytes (\d+)\.\.(\d+)", match.group(3))
            check(span is not None and int(span.group(1)) == position and position <= middle < int(span.group(2)),
                  f"the damaged batch's byte range holds the flipped byte {middle}", damaged)
        check(first in damaged.stderr and "damaged at byte" in damaged.stderr, "stderr names the file and offset", damaged)
        check(figures(damaged.stdout).get("result") == "damaged", "verify reports result=damaged", damaged)

        # Exit codes and usage.
        helped = run([tool, "--help"])
        check(helped.returncode == 0 and "append" in helped.stdout and "verify" in helped.stdout, "--help exits 0", helped)
        for bad in ([], ["verify"], ["bogus", log_dir], ["verify", os.path.join(tmp, "missing")],
                    ["append", log_dir, "--batch-records", "0"], ["dump", log_dir, "--bogus"]):
            result = run([tool, *bad])
            check(result.returncode == 2, f"usage error {bad} exits 2", result)

    for failure in failures:
        print("FAILED:", failure)
    print(f"{checks[0] - len(failures)}/{checks[0]} checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
