#!/usr/bin/env python3
"""End-to-end checks of the sluice-sim command line: figures, determinism, exit codes, errors.

Usage: sluice_sim_cli_test.py SLUICE_SIM SOURCE_DIR
"""
import json
import os
import pty
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


def seed_lines(stdout):
    return [line for line in stdout.splitlines() if line.startswith("seed=")]


def check_sweep_runner(sim, source):
    """--jobs, --shard, --json, merge and their usage errors (sim/sweep.h)."""
    sweep = [sim, "sweep", "--scenario", "scenarios/smoke.toml"]
    serial = run([*sweep, "--seeds", "1..4", "--jobs", "1"], source)
    parallel = run([*sweep, "--seeds", "1..4", "--jobs", "2"], source)
    check(serial.returncode == 0 and len(seed_lines(serial.stdout)) == 4, "sweep --jobs 1 runs 4 seeds", serial)
    check(seed_lines(parallel.stdout) == seed_lines(serial.stdout), "--jobs 2 prints the same seeds and hashes as --jobs 1",
          parallel)
    single = run([sim, "run", "--scenario", "scenarios/smoke.toml", "--seed", "3"], source)
    check(f"seed=3 result=passed trace_hash={figures(single.stdout).get('trace_hash')}" in parallel.stdout,
          "a worker's seed 3 has run --seed 3's trace_hash", parallel)
    for key in ("failures=0", "seeds_per_s=", "wall_s=", "jobs=2", "seeds=4 failed=0 coverage=complete"):
        check(key in parallel.stdout, f"sweep summary has {key}", parallel)

    twice = run([*sweep, "--seeds", "1..2", "--jobs", "2", "--check-determinism"], source)
    check(twice.returncode == 0 and "determinism=checked" in twice.stdout and
          seed_lines(twice.stdout) == seed_lines(serial.stdout)[:2], "sweep --check-determinism passes", twice)

    shard = run([*sweep, "--seeds", "1..6", "--shard", "1/3"], source)
    check(shard.returncode == 0 and [line.split()[0] for line in seed_lines(shard.stdout)] == ["seed=2", "seed=5"],
          "--shard 1/3 of 1..6 runs seeds 2 and 5", shard)

    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, f"shard{i}.json") for i in range(2)]
        for i, path in enumerate(paths):
            result = run([*sweep, "--seeds", "1..4", "--shard", f"{i}/2", "--jobs", "2", "--json", path], source)
            check(result.returncode == 0 and os.path.exists(path), f"--json writes shard {i}/2", result)
        whole = run([*sweep, "--seeds", "1..4", "--json", "-"], source)
        check(whole.returncode == 0, "--json - exits 0", whole)
        try:
            summary = json.loads(whole.stdout)
        except ValueError:
            summary = {}
            check(False, "--json - prints only JSON on stdout", whole)
        check(summary.get("seeds") == 4 and summary.get("failures") == [] and summary.get("shards") == [{"index": 0, "count": 1}],
              "JSON summary: seeds, failures, shards", whole)
        check(isinstance(summary.get("buggify"), dict) and len(summary.get("buggify", {})) > 0,
              "JSON summary names the BUGGIFY sites", whole)
        check("seed=1 result=passed" in whole.stderr, "with --json - the text report goes to stderr", whole)
        merged = run([sim, "merge", *paths], source)
        check(merged.returncode == 0, "merge of two shards exits 0", merged)
        try:
            combined = json.loads(merged.stdout)
        except ValueError:
            combined = {}
        check(combined.get("seeds") == 4 and combined.get("coverage") == summary.get("coverage") and
              len(combined.get("shards", [])) == 2, "merged shards equal the whole sweep", merged)
        check(combined.get("buggify") == summary.get("buggify"), "merged BUGGIFY counts equal the whole sweep's", merged)
        twice = run([sim, "merge", paths[0], paths[0]], source)
        check(twice.returncode == 2 and "appears twice" in twice.stderr, "merging one shard twice exits 2", twice)
        missing = run([sim, "merge", os.path.join(tmp, "none.json")], source)
        check(missing.returncode == 2 and "none.json" in missing.stderr, "merging a missing file exits 2 naming it", missing)

    check_failing_sweep(sim, source)
    check_progress_line(sim, source)

    for bad in (["--jobs", "0"], ["--jobs", "x"], ["--shard", "3/3"], ["--shard", "1/0"], ["--shard", "x"],
                ["--json", "/nonexistent/dir/out.json"]):
        result = run([*sweep, "--seeds", "1..2", *bad], source)
        check(result.returncode == 2 and result.stderr.strip() != "", f"sweep {bad} exits 2 with a message", result)
    check(run([sim, "merge"], source).returncode == 2, "merge without files exits 2")


def check_failing_sweep(sim, source):
    """A sweep with failing seeds (a planted bug): exit 1, every failing seed with its checker's
    violation and replay command, in the text and the JSON, the same for any --jobs."""
    with open(os.path.join(source, "tests/swim/swim-false-positives-small.toml")) as original:
        text = original.read().replace('name = "swim-false-positives-small"',
                                       'name = "planted"\nplanted_bug = "swim_no_refute"', 1)
    with tempfile.TemporaryDirectory() as tmp:
        scenario = os.path.join(tmp, "planted.toml")
        with open(scenario, "w") as out:
            out.write(text)
        sweep = [sim, "sweep", "--scenario", scenario, "--seeds", "1..2"]
        serial = run([*sweep, "--jobs", "1"], source)
        parallel = run([*sweep, "--jobs", "2", "--json", os.path.join(tmp, "s.json")], source)
        check(parallel.returncode == 1 and "failures=2" in parallel.stdout, "a planted bug fails the sweep (exit 1)", parallel)
        check(seed_lines(parallel.stdout) == seed_lines(serial.stdout), "failing seeds alike for --jobs 1 and 2", parallel)
        replay = f"build/bin/sluice-sim run --scenario {scenario} --seed 1"
        check(re.search(r"^failed_seed=1 checker=swim [a-z]+ failure=.*swim", parallel.stdout, re.M) is not None and
              f"  replay={replay}" in parallel.stdout, "the summary names failing seed 1, its checker and replay", parallel)
        with open(os.path.join(tmp, "s.json")) as summary_file:
            summary = json.load(summary_file)
        check([f["seed"] for f in summary["failures"]] == [1, 2] and summary["failures"][0]["replay"] == replay and
              summary["failures"][0]["checker"].startswith("swim ") and summary["passed"] is False,
              "the JSON lists both failures with checker text and replay", parallel)
        # --shrink: the first failing seed shrunk into the directory (made if missing), the rest
        # counted; the replay file fails the same checker again.
        replays = os.path.join(tmp, "replays", "sub")
        shrunk = run([*sweep, "--shrink", replays, "--shrink-max", "1", "--shrink-runs-max", "10"], source)
        replay_file = os.path.join(replays, "planted-seed1.replay.toml")
        line = re.search(r"^shrunk seed=1 checker=(swim [a-z]+) faults=\d+->\d+ events=\d+->\d+ .*replay=(.*)$", shrunk.stdout, re.M)
        check(shrunk.returncode == 1 and line is not None and line.group(2).endswith(replay_file) and
              "1 more failing seed(s) not shrunk" in shrunk.stdout and os.path.exists(replay_file),
              "sweep --shrink shrinks seed 1 into the directory and counts the other", shrunk)
        replayed = run([sim, "replay", replay_file], source)
        check(line is not None and f"expected_checker={line.group(1)}" in replayed.stdout and
              f"\nchecker={line.group(1)}" in replayed.stdout, "the sweep's replay file fails the same checker", replayed)
        blocked = os.path.join(tmp, "file")
        open(blocked, "w").close()
        unusable = run([*sweep, "--shrink", os.path.join(blocked, "dir")], source)
        check(unusable.returncode == 2 and "--shrink" in unusable.stderr and "seeds=" not in unusable.stdout,
              "an unusable --shrink directory exits 2 before the sweep", unusable)


def check_progress_line(sim, source):
    """The progress line appears on stderr only when it is a terminal, rewritten with \\r."""
    args = [sim, "sweep", "--scenario", "scenarios/smoke.toml", "--seeds", "1..2", "--jobs", "2"]
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run(args, cwd=source, stdout=subprocess.PIPE, stderr=terminal, timeout=300)
        os.close(terminal)
        terminal = -1
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    check(result.returncode == 0 and b"\rseeds 2/2" in shown and b"failures 0" in shown and b"ETA" in shown and
          shown.rstrip(b" ").endswith(b"\n"), f"a terminal gets the progress line: {shown[-200:]!r}")
    piped = run(args, source)
    check("seeds " not in piped.stderr and "\r" not in piped.stderr, "no progress line when stderr is not a terminal", piped)


def check_swarm(sim, source):
    """[swarm]: run prints the knobs, and a sweep's seed is the same run (sim/swarm.h)."""
    swarm = run([sim, "run", "--scenario", "scenarios/cluster-swarm.toml", "--seed", "2"], source)
    check(swarm.returncode == 0 and "crash=" in figures(swarm.stdout).get("swarm", ""), "run prints swarm=", swarm)
    swept = run([sim, "sweep", "--scenario", "scenarios/cluster-swarm.toml", "--seeds", "2..2", "--jobs", "2"], source)
    check(f"seed=2 result=passed trace_hash={figures(swarm.stdout).get('trace_hash')}" in swept.stdout,
          "sweep's swarm seed 2 is run --seed 2", swept)


def check_replay_timeline(sim, source):
    """replay --timeline writes the replayed run's page, failing or not; an unwritable path is a
    usage error (exit 2) before the run."""
    replay_file = os.path.join(source, "fuzz/corpus/fuzz_replay_parse/cluster-smoke-no-dedup-seed22-skip-ops.replay.toml")
    with tempfile.TemporaryDirectory() as tmp:
        page = os.path.join(tmp, "replay.html")
        replayed = run([sim, "replay", replay_file, "--timeline", page], source)
        check(replayed.returncode in (0, 1) and "expected_checker=" in replayed.stdout, "replay --timeline runs the replay", replayed)
        text = open(page).read() if os.path.exists(page) else ""
        data = re.search(r'<script type="application/json" id="timeline-data">(.*?)</script>', text, re.S)
        timeline = json.loads(data.group(1)) if data else {}
        check(timeline.get("format") == "sluice-timeline" and str(timeline.get("seed")) == "22" and
              timeline.get("trace_hash") == figures(replayed.stdout).get("trace_hash") and len(timeline.get("lanes", [])) > 0,
              "the replayed run's page: its seed, its trace hash, its lanes", replayed)
        unwritable = run([sim, "replay", replay_file, "--timeline", os.path.join(tmp, "no/such/dir.html")], source)
        check(unwritable.returncode == 2 and "--timeline" in unwritable.stderr and "events=" not in unwritable.stdout,
              "an unwritable --timeline path exits 2 before the run", unwritable)


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

    check_sweep_runner(sim, source)
    check_swarm(sim, source)
    check_replay_timeline(sim, source)

    for failure in failures:
        print("FAIL:", failure)
    print(f"{checks[0] - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
