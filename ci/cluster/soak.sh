#!/usr/bin/env bash
# `make cluster-soak`: the cluster smoke test (ci/cluster/smoke.sh) N times back to back, to
# find what fails only now and then. Prints one line per run (passed or the failed step and
# its error, and the time), then how many passed and the slowest steps (median and maximum
# seconds over the runs). Each run's whole output and step times are kept under
# $TOOLS_CACHE/cluster/soak-<date>/. Exits 1 when any run failed. Not part of `make test`.
#
# Environment: SOAK_RUNS [10]; everything ci/cluster/smoke.sh takes (not KEEP_CLUSTER).
set -euo pipefail

# shellcheck source=ci/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOAK_RUNS="${SOAK_RUNS:-10}"
[[ "$SOAK_RUNS" =~ ^[1-9][0-9]*$ ]] || cluster_die "SOAK_RUNS must be a positive number, got '$SOAK_RUNS'"
out="$TOOLS_CACHE/cluster/soak-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
cluster_log "soak: $SOAK_RUNS cluster smoke runs, logs in $out"

passed=0
for ((run = 1; run <= SOAK_RUNS; run++)); do
  started=$SECONDS
  if KEEP_CLUSTER=0 "$REPO_ROOT/ci/cluster/smoke.sh" >"$out/run-$run.log" 2>&1; then
    result=passed
    passed=$((passed + 1))
  else
    # The report's first two lines: the failed step and its error.
    result="FAILED: $(grep -E '^[a-z-]+: (FAILED step|error): ' "$out/run-$run.log" | tail -n 2 |
      sed -E 's/^[a-z-]+: (FAILED step|error): //' | paste -sd'|' - | sed 's/|/: /')"
  fi
  cp "$CLUSTER_STATE/step-times.tsv" "$out/step-times-$run.tsv" 2>/dev/null || true
  printf 'run %d/%d: %s (%ds)\n' "$run" "$SOAK_RUNS" "$result" "$((SECONDS - started))" |
    tee -a "$out/summary.txt"
done

# The steps by their median time over the runs (ci/smoke.sh's own line holds its steps).
{
  printf 'soak: %d of %d runs passed\n' "$passed" "$SOAK_RUNS"
  printf 'slowest steps (median / max seconds over %d runs):\n' "$SOAK_RUNS"
  cat "$out"/step-times-*.tsv 2>/dev/null | awk -F'\t' '$2 != "ci/smoke.sh"' |
    python3 -c '
import statistics, sys
times = {}
for line in sys.stdin:
    seconds, step = line.rstrip("\n").split("\t", 1)
    times.setdefault(step, []).append(int(seconds))
ranked = sorted(times.items(), key=lambda kv: statistics.median(kv[1]), reverse=True)
for step, values in ranked[:5]:
    print(f"  {statistics.median(values):6.0f} / {max(values):4d}  {step}")
'
} | tee -a "$out/summary.txt"
((passed == SOAK_RUNS))
