#!/usr/bin/env python3
"""Self-test of a lint (ctest `lint_determinism_catches`, `lint_layering_catches`): runs
`LINT --root FIXTURE_ROOT` and checks that it exits 1 and reports exactly the lines marked
`expect-violation` (on the line itself, or a line holding only `// expect-violation below` marks
the next line), each as `path:line: reason`.

usage: check_catches.py LINT FIXTURE_ROOT
  tests/lint/check_catches.py tools/lint-determinism tests/lint/fixture
  tests/lint/check_catches.py tools/lint-layering tests/lint/layering_fixture
"""

import os
import re
import subprocess
import sys

EXPECT_HERE = re.compile(r"//\s*expect-violation\s*$")
EXPECT_BELOW = re.compile(r"^\s*//\s*expect-violation below\s*$")
REPORT = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): (?P<reason>.*\S.*)$")


def expected_hits(root):
    hits = set()
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            with open(path, encoding="utf-8") as f:
                lines = f.read().split("\n")
            for number, line in enumerate(lines, start=1):
                if EXPECT_BELOW.match(line):
                    hits.add((relative, number + 1))
                elif EXPECT_HERE.search(line):
                    hits.add((relative, number))
    return hits


def main():
    if len(sys.argv) >= 2 and sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    lint, root = sys.argv[1], sys.argv[2]
    run = subprocess.run([lint, "--root", root], capture_output=True, text=True, check=False)
    print(run.stdout, end="")
    print(run.stderr, end="", file=sys.stderr)

    failures = []
    if run.returncode != 1:
        failures.append(f"lint exited {run.returncode}, expected 1")
    reported = set()
    for line in run.stdout.splitlines():
        match = REPORT.match(line)
        if not match:
            failures.append(f"output line not in `path:line: reason` form: {line!r}")
            continue
        reported.add((match["path"], int(match["line"])))
    expected = expected_hits(root)
    if not expected:
        failures.append(f"no `expect-violation` markers found under {root}")
    for path, line in sorted(expected - reported):
        failures.append(f"missed: {path}:{line}")
    for path, line in sorted(reported - expected):
        failures.append(f"false positive: {path}:{line}")

    for failure in failures:
        print(f"check_catches: {failure}", file=sys.stderr)
    if failures:
        return 1
    print(f"check_catches: all {len(expected)} expected violations reported, nothing else")
    return 0


if __name__ == "__main__":
    sys.exit(main())
