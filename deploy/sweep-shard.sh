#!/usr/bin/env bash
# Runs one shard of a simulation sweep (docs/simulation.md, "Sweeping"; docs/operations.md,
# "Sweeps on many machines"): shard i of n, where i comes from the job engine's index variable,
# writing the JSON summary and the text report into a directory shared by every shard. A merge
# step (`sluice-sim merge DIR/shard-*.json`) then combines the shards' summaries.
set -uo pipefail

usage() {
  cat <<'EOF_USAGE'
usage: deploy/sweep-shard.sh --scenario FILE --seeds A..B --out DIR [--shards N] [--index I]
                             [--jobs J] [--failures-ok] [-- SLUICE-SIM-SWEEP-ARGS...]

Runs `sluice-sim sweep --scenario FILE --seeds A..B --shard I/N --jobs J --json DIR/shard-I-of-N.json`,
its text report in DIR/shard-I-of-N.txt (and on stdout). Arguments after -- go to sluice-sim sweep.

  --scenario FILE  the scenario (TOML)
  --seeds A..B     the whole sweep's seed range (the same for every shard)
  --out DIR        where the shard writes; created if missing; shared by all shards
  --shards N       the number of shards (default: $SWEEP_SHARDS, else $SLURM_ARRAY_TASK_COUNT)
  --index I        this shard, 0-based (default: $JOB_COMPLETION_INDEX (Kubernetes Indexed Job),
                   else $SLURM_ARRAY_TASK_ID - ${SLURM_ARRAY_TASK_MIN:-0} (Slurm array job))
  --jobs J         worker processes (default: $SWEEP_JOBS, else the CPUs this process may use)
  --failures-ok    exit 0 when the shard ran but seeds failed (they are in the JSON; the merge
                   step's exit code judges the sweep), so the job engine does not retry it
  --help           show this help

environment:
  SLUICE_SIM       the sluice-sim binary (default: sluice-sim on PATH, else build/bin/sluice-sim
                   of this checkout)

exit codes: sluice-sim's (0 passed, 1 seeds failed, unless --failures-ok), 2 usage error.
EOF_USAGE
}

die_usage() {
  echo "sweep-shard: $*" >&2
  usage >&2
  exit 2
}

scenario="" seeds="" out="" shards=${SWEEP_SHARDS:-${SLURM_ARRAY_TASK_COUNT:-}} index="" jobs=${SWEEP_JOBS:-}
failures_ok=0
extra=()
while (($# > 0)); do
  case "$1" in
    --help | -h) usage; exit 0 ;;
    --scenario | --seeds | --out | --shards | --index | --jobs)
      (($# >= 2)) || die_usage "$1 needs a value"
      case "$1" in
        --scenario) scenario=$2 ;;
        --seeds) seeds=$2 ;;
        --out) out=$2 ;;
        --shards) shards=$2 ;;
        --index) index=$2 ;;
        --jobs) jobs=$2 ;;
      esac
      shift 2 ;;
    --failures-ok) failures_ok=1; shift ;;
    --) shift; extra=("$@"); break ;;
    *) die_usage "unknown argument '$1'" ;;
  esac
done

[[ -n $scenario ]] || die_usage "--scenario is required"
[[ -n $seeds ]] || die_usage "--seeds is required"
[[ -n $out ]] || die_usage "--out is required"
if [[ -z $index ]]; then
  if [[ -n ${JOB_COMPLETION_INDEX:-} ]]; then
    index=$JOB_COMPLETION_INDEX
  elif [[ -n ${SLURM_ARRAY_TASK_ID:-} ]]; then
    [[ $SLURM_ARRAY_TASK_ID =~ ^[0-9]+$ && ${SLURM_ARRAY_TASK_MIN:-0} =~ ^[0-9]+$ ]] ||
      die_usage "SLURM_ARRAY_TASK_ID='$SLURM_ARRAY_TASK_ID' SLURM_ARRAY_TASK_MIN='${SLURM_ARRAY_TASK_MIN:-}' are not numbers"
    index=$((SLURM_ARRAY_TASK_ID - ${SLURM_ARRAY_TASK_MIN:-0}))
  else
    die_usage "no shard index: give --index, or run under a Kubernetes Indexed Job (JOB_COMPLETION_INDEX) or a Slurm array (SLURM_ARRAY_TASK_ID)"
  fi
fi
[[ -n $shards ]] || die_usage "no shard count: give --shards (or SWEEP_SHARDS; Slurm: SLURM_ARRAY_TASK_COUNT)"
[[ $index =~ ^[0-9]+$ ]] || die_usage "the shard index '$index' is not a number"
[[ $shards =~ ^[1-9][0-9]*$ ]] || die_usage "the shard count '$shards' is not a positive number"
((index < shards)) || die_usage "shard index $index is not below the shard count $shards"
if [[ -z $jobs ]]; then jobs=$(nproc 2> /dev/null || echo 1); fi
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die_usage "--jobs '$jobs' is not a positive number"

sim=${SLUICE_SIM:-}
if [[ -z $sim ]]; then
  if command -v sluice-sim > /dev/null; then
    sim=sluice-sim
  else
    sim=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/bin/sluice-sim
  fi
fi

mkdir -p "$out" || { echo "sweep-shard: cannot create $out" >&2; exit 2; }
name="shard-$index-of-$shards"
echo "sweep-shard: scenario=$scenario seeds=$seeds shard=$index/$shards jobs=$jobs json=$out/$name.json" >&2
"$sim" sweep --scenario "$scenario" --seeds "$seeds" --shard "$index/$shards" --jobs "$jobs" \
  --json "$out/$name.json.tmp" "${extra[@]}" | tee "$out/$name.txt"
status=${PIPESTATUS[0]}
# Renamed only once whole: a merge never reads half a summary.
if [[ -f $out/$name.json.tmp ]]; then mv -f "$out/$name.json.tmp" "$out/$name.json"; fi
if ((status == 1 && failures_ok == 1)) && [[ -f $out/$name.json ]]; then
  echo "sweep-shard: seeds failed (see $out/$name.json); exit 0 as --failures-ok asks" >&2
  exit 0
fi
exit "$status"
