#!/usr/bin/env python3
"""deploy/sweep-shard.sh as the Kubernetes Indexed Job and the Slurm array job run it, locally.

For a small scenario whose seeds fail (a planted bug) and one that passes, runs shards 0..2 of 3
the way each engine would: the container command and args of deploy/k8s/sweep-job.yaml (seeds,
scenario and output swapped for small local ones) with JOB_COMPLETION_INDEX, and
deploy/slurm/sweep.sbatch with SLURM_ARRAY_TASK_ID/_MIN/_COUNT of an array 1-3; merges the shards'
JSON with `sluice-sim merge`, and compares with the unsharded sweep: the same seeds with the same
trace hashes, the same failures (seed, checker, replay), coverage, BUGGIFY counts and verdict.
Also: the script's usage errors exit 2, and --failures-ok turns a failing shard into exit 0.

  tests/deploy/sweep_shard_test.py SLUICE_SIM SOURCE_DIR

Exit codes: 0 passed, 1 failed, 2 usage error.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

SEEDS = "1..7"
SHARDS = 3
failures = []


def check(condition, what, result=None):
    if condition:
        return
    detail = ""
    if result is not None:
        detail = f"\n  exit {result.returncode}\n  stdout: {result.stdout[-2000:]}\n  stderr: {result.stderr[-2000:]}"
    failures.append(what + detail)


def run(args, source, env=None):
    return subprocess.run(args, cwd=source, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)


def seed_lines(text):
    return sorted((line for line in text.splitlines() if re.match(r"^seed=\d+ result=", line)),
                  key=lambda line: int(line.split()[0][5:]))


def comparable(summary):
    """What a merge must reproduce of the unsharded summary (not wall time, jobs or shards)."""
    keys = ("format", "version", "scenario", "scenario_path", "seeds_first", "seeds_last", "swarm", "seeds",
            "failures_count", "passed", "failures", "coverage", "coverage_required", "coverage_missing", "buggify")
    return {key: summary.get(key) for key in keys}


def kubernetes_job(source):
    """The shard container of deploy/k8s/sweep-job.yaml: command, args, env; and the shard count
    its completions, parallelism, SWEEP_SHARDS and the merge Job agree on. None without PyYAML."""
    try:
        import yaml
    except ImportError:
        return None
    with open(os.path.join(source, "deploy/k8s/sweep-job.yaml")) as f:
        job = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "Job"][0]
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container.get("env", [])}
    check(job["spec"].get("completionMode") == "Indexed", "sweep-job.yaml: an Indexed Job")
    shards = job["spec"]["completions"]
    check(job["spec"].get("parallelism") == shards and env.get("SWEEP_SHARDS") == str(shards),
          f"sweep-job.yaml: completions, parallelism and SWEEP_SHARDS agree ({shards})")
    with open(os.path.join(source, "deploy/k8s/sweep-merge-job.yaml")) as f:
        merge = [d for d in yaml.safe_load_all(f) if d][0]
    merge_args = " ".join(merge["spec"]["template"]["spec"]["containers"][0]["args"])
    check(f"shard-*-of-{shards}.json" in merge_args, f"sweep-merge-job.yaml merges the {shards} shards")
    return container["command"], container["args"], env


def engine_runs(source, scenario, out):
    """Per engine: shard i's command line and environment as that engine would run it here."""
    base_env = {k: v for k, v in os.environ.items() if k != "JOB_COMPLETION_INDEX" and not k.startswith("SLURM_")}
    runs = {}
    job = kubernetes_job(source)
    if job is not None:
        command, args, env = job
        check(os.path.basename(command[0]) == "sweep-shard.sh", "sweep-job.yaml runs sweep-shard.sh")
        values = {"--scenario": scenario, "--seeds": SEEDS, "--out": out("kubernetes")}
        args = [values.get(args[k - 1], a) if k > 0 else a for k, a in enumerate(args)]
        env = {**base_env, **env, "SWEEP_SHARDS": str(SHARDS), "SWEEP_JOBS": "1"}
        runs["kubernetes"] = lambda i: ([os.path.join(source, "deploy/sweep-shard.sh"), *args],
                                        dict(env, JOB_COMPLETION_INDEX=str(i)))
    else:
        print("note: no PyYAML; the Kubernetes run uses the script's own flags, not sweep-job.yaml's")
        runs["kubernetes"] = lambda i: ([os.path.join(source, "deploy/sweep-shard.sh"), "--scenario", scenario, "--seeds",
                                         SEEDS, "--out", out("kubernetes"), "--shards", str(SHARDS), "--jobs", "1",
                                         "--failures-ok"], dict(base_env, JOB_COMPLETION_INDEX=str(i)))
    # sbatch --array=1-3: task ids 1..3, MIN 1, COUNT 3; the batch script itself.
    slurm_env = dict(base_env, SLURM_SUBMIT_DIR=source, SWEEP_SCENARIO=scenario, SWEEP_SEEDS=SEEDS,
                     SWEEP_OUT=out("slurm"), SLURM_CPUS_PER_TASK="1", SLURM_ARRAY_TASK_MIN="1",
                     SLURM_ARRAY_TASK_COUNT=str(SHARDS))
    runs["slurm"] = lambda i: ([os.path.join(source, "deploy/slurm/sweep.sbatch")],
                               dict(slurm_env, SLURM_ARRAY_TASK_ID=str(i + 1)))
    return runs


def check_scenario(sim, source, scenario, tmp, label):
    whole_json = os.path.join(tmp, f"{label}-whole.json")
    whole = run([sim, "sweep", "--scenario", scenario, "--seeds", SEEDS, "--jobs", "2", "--json", whole_json], source)
    check(whole.returncode in (0, 1) and os.path.exists(whole_json), f"{label}: the unsharded sweep ran", whole)
    if not os.path.exists(whole_json):
        return None
    with open(whole_json) as f:
        expected = json.load(f)
    outs = {}
    for engine, shard_run in engine_runs(source, scenario, lambda e: outs.setdefault(e, os.path.join(tmp, f"{label}-{e}"))).items():
        out = outs[engine]
        texts = ""
        for i in range(SHARDS):
            args, env = shard_run(i)
            shard = run(args, source, dict(env, SLUICE_SIM=sim))
            check(shard.returncode == 0, f"{label}/{engine}: shard {i} exits 0 (--failures-ok)", shard)
            path = os.path.join(out, f"shard-{i}-of-{SHARDS}.json")
            check(os.path.exists(path), f"{label}/{engine}: shard {i} wrote {path}", shard)
            check(not os.path.exists(path + ".tmp"), f"{label}/{engine}: shard {i} left no .tmp", shard)
            texts += shard.stdout
        check(seed_lines(texts) == seed_lines(whole.stdout),
              f"{label}/{engine}: the shards ran the same seeds with the same trace hashes as the whole sweep\n"
              f"  shards: {seed_lines(texts)}\n  whole: {seed_lines(whole.stdout)}")
        merged = run([sim, "merge", *[os.path.join(out, f"shard-{i}-of-{SHARDS}.json") for i in range(SHARDS)]], source)
        check(merged.returncode == whole.returncode, f"{label}/{engine}: merge exits as the whole sweep ({whole.returncode})",
              merged)
        try:
            combined = json.loads(merged.stdout)
        except json.JSONDecodeError:
            check(False, f"{label}/{engine}: merge printed JSON", merged)
            continue
        check(comparable(combined) == comparable(expected),
              f"{label}/{engine}: merged summary equals the whole sweep's\n  merged: {comparable(combined)}\n"
              f"  whole: {comparable(expected)}")
        check(combined.get("shards") == [{"index": i, "count": SHARDS} for i in range(SHARDS)],
              f"{label}/{engine}: merged shards 0..2 of 3", merged)
    return expected


def check_usage(script, source):
    env = {k: v for k, v in os.environ.items() if k != "JOB_COMPLETION_INDEX" and not k.startswith("SLURM_")}
    ok = run([script, "--help"], source, env)
    check(ok.returncode == 0 and "usage:" in ok.stdout, "--help exits 0 with usage", ok)
    base = [script, "--scenario", "scenarios/smoke.toml", "--seeds", "1..2", "--out", "/tmp/unused-sweep-shard"]
    for args, env_extra, why in (([script], {}, "no arguments"),
                                 (base + ["--shards", "3"], {}, "no index anywhere"),
                                 (base + ["--shards", "3", "--index", "3"], {}, "index not below the count"),
                                 (base + ["--index", "0"], {}, "no shard count"),
                                 (base + ["--shards", "0", "--index", "0"], {}, "zero shards"),
                                 (base + ["--shards", "2"], {"JOB_COMPLETION_INDEX": "x"}, "a bad JOB_COMPLETION_INDEX"),
                                 (base + ["--bogus"], {}, "an unknown flag")):
        result = run(args, source, dict(env, **env_extra))
        check(result.returncode == 2 and "usage:" in result.stderr, f"usage error ({why}) exits 2 with usage", result)


def main():
    if len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if len(sys.argv) != 3:
        print("usage: sweep_shard_test.py SLUICE_SIM SOURCE_DIR", file=sys.stderr)
        return 2
    sim, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    script = os.path.join(source, "deploy/sweep-shard.sh")
    check_usage(script, source)
    with open(os.path.join(source, "tests/swim/swim-false-positives-small.toml")) as original:
        text = original.read().replace('name = "swim-false-positives-small"',
                                       'name = "planted"\nplanted_bug = "swim_no_refute"', 1)
    with tempfile.TemporaryDirectory(prefix="sluice-sweep-shard-") as tmp:
        planted = os.path.join(tmp, "planted.toml")
        with open(planted, "w") as out:
            out.write(text)
        summary = check_scenario(sim, source, planted, tmp, "planted")
        if summary is not None:
            check(summary["failures_count"] > 0, "the planted scenario has failing seeds to compare")
        check_scenario(sim, source, "scenarios/smoke.toml", tmp, "smoke")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    if failures:
        return 1
    print(f"ok: shards 0..{SHARDS - 1} of {SHARDS} under Kubernetes and Slurm index variables merge to the unsharded sweep")
    return 0


if __name__ == "__main__":
    sys.exit(main())
