#!/usr/bin/env python3
"""End-to-end checks of the sluice-sim command line: figures, determinism, exit codes, errors.

Usage: sluice_sim_cli_test.py SLUICE_SIM SOURCE_DIR
"""
import os
import re
import subprocess
import sys
import tempfile

failures = []
checks = [0]


def run(args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)


def check(condition, what, result=None):
    checks[0] += 1
    if not condition:
        detail = ""
        if result is not None:
            detail = f"\n  exit={result.returncode}\n  stdout={result.stdout[-2000:]}\n  stderr={result.stderr[-2000:]}"
        failures.append(what + detail)


def figures(stdout):
    return dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    sim, source = sys.argv[1], sys.argv[2]
    smoke = ["run", "--scenario", "scenarios/smoke.toml"]

    first = run([sim, *smoke, "--seed", "7"], source)
    check(first.returncode == 0, "smoke seed 7 passes", first)
    f1 = figures(first.stdout)
    check(re.fullmatch(r"[0-9a-f]{16}", f1.get("trace_hash", "")) is not None, "trace_hash is 16 hex digits", first)
    for key in ("seed", "simulated_s", "events", "result"):
        check(key in f1, f"summary has {key}=", first)
    check(f1.get("seed") == "7" and f1.get("result") == "passed", "summary names seed 7 and result=passed", first)

    again = run([sim, *smoke, "--seed", "7"], source)
    check(figures(again.stdout).get("trace_hash") == f1.get("trace_hash"), "same seed, same trace_hash", again)
    other = run([sim, *smoke, "--seed", "8"], source)
    check(other.returncode == 0, "smoke seed 8 passes", other)
    check(figures(other.stdout).get("trace_hash") != f1.get("trace_hash"), "different seed, different hash", other)

    determinism = run([sim, *smoke, "--seed", "7", "--check-determinism"], source)
    check(determinism.returncode == 0 and "determinism=ok" in determinism.stdout, "--check-determinism passes",
          determinism)

    helped = run([sim, "--help"], source)
    check(helped.returncode == 0 and "run" in helped.stdout, "--help exits 0 and lists commands", helped)
    for bad in ([], ["run", "--scenario", "scenarios/smoke.toml"], [*smoke, "--seed", "x"], [*smoke, "--seed", "1", "--bogus"],
                ["sweep", "--scenario", "scenarios/smoke.toml", "--seeds", "5..2"]):
        result = run([sim, *bad], source)
        check(result.returncode == 2 and result.stderr.strip() != "", f"usage error {bad} exits 2 with a message", result)

    missing = run([sim, "run", "--scenario", "no/such.toml", "--seed", "1"], source)
    check(missing.returncode == 2 and "no/such.toml" in missing.stderr, "missing scenario exits 2 naming it", missing)

    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "typo.toml": ("nodes = 3\n[network]\nlatncy_ms_min = 1\n", ":3: network.latncy_ms_min: unknown key"),
            "range.toml": ("nodes = 3\n\n[disk]\nread_error = 2\n", ":4: disk.read_error: must be between"),
            "syntax.toml": ("nodes = 3\nduration_s = = 4\n", ":2: toml:"),
        }
        for name, (text, expected) in cases.items():
            path = os.path.join(tmp, name)
            with open(path, "w") as out:
                out.write(text)
            result = run([sim, "run", "--scenario", path, "--seed", "1"], source)
            check(result.returncode == 2 and (path + expected) in result.stderr,
                  f"malformed {name} exits 2 with '{expected}'", result)

    sweep = run([sim, "sweep", "--scenario", "scenarios/smoke.toml", "--seeds", "1..3"], source)
    check(sweep.returncode == 0 and "seeds=3 failed=0" in sweep.stdout, "sweep 1..3 passes", sweep)

    for failure in failures:
        print("FAIL:", failure)
    print(f"{checks[0] - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
