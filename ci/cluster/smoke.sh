#!/usr/bin/env bash
# `make cluster-smoke`: the smoke test (ci/smoke.sh, the same script kind users run) on the
# project's own single-node cluster: ci/cluster/up.sh, build the image with podman on the
# local base image (as `LOCAL_BASE=1 make image` does), publish it and the chart, and the
# previous release's, to the cluster's OCI registry (ci/cluster/release.sh), build and load
# the monitoring images and the TLS edge's (Traefik), run ci/smoke.sh inside the cluster's
# network namespace (installing the released charts from oci://, images pinned by digest and
# pulled by the node, CRDs from the tool cache), then ci/cluster/down.sh (also on failure or
# Ctrl-C).
#
# The whole output is also kept in $CLUSTER_STATE/smoke.log (down.sh keeps it). On failure
# the last lines name the step that failed, its error and what it printed last, then the
# log's path. Each step's seconds go to $CLUSTER_STATE/step-times.tsv.
#
# Environment:
#   KEEP_CLUSTER=1  leave the cluster running, with the release installed again after its
#                   uninstall was proven (prod overlay, monitoring on), and print
#                   KUBECONFIG=... and CLUSTER_NETNS=...; `make cluster-down` stops it
#   IMAGE [production-api:dev]  LOCAL_BASE [1]  (ci/build-image.sh)
#   CLUSTER_NAME, CLUSTER_STATE (ci/cluster/lib.sh); RELEASE, NAMESPACE, ... (ci/smoke/settings.sh)
set -euo pipefail

# shellcheck source=ci/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ci/cluster/node.sh, the smoke test's SMOKE_NODE_CONTROL, acts on this cluster.
export CLUSTER_NAME CLUSTER_STATE
KEEP_CLUSTER="${KEEP_CLUSTER:-0}"
IMAGE="${IMAGE:-production-api:dev}"
export LOCAL_BASE="${LOCAL_BASE:-1}"

prom_crds="$TOOLS_CACHE/schemas/prometheus-operator-$PROM_OPERATOR_VERSION"
gateway_crds="$TOOLS_CACHE/schemas/gateway-api-$GATEWAY_API_VERSION"
for dir in "$prom_crds" "$gateway_crds"; do
  [[ -d "$dir" ]] || cluster_die "$dir missing: run ci/install-tools.sh"
done

# The whole output, also in a file: beside the state directory until up.sh has made that
# directory anew (it wipes the old one), then moved into it; tee keeps writing to the moved
# file.
SMOKE_LOG="$CLUSTER_STATE/smoke.log"
early_log="$CLUSTER_STATE.smoke.log"
mkdir -p "$(dirname "$CLUSTER_STATE")"
: >"$early_log"
exec > >(tee -a "$early_log")
tee_out=$!
exec 2> >(tee -a "$early_log" >&2)
tee_err=$!
steps_begin cluster-smoke
smoke_report="$(mktemp)"
smoke_times="$(mktemp)"

keep_log() {
  if [[ -f "$early_log" ]]; then
    mkdir -p "$CLUSTER_STATE"
    mv -f "$early_log" "$SMOKE_LOG"
  fi
}

finish() {
  local rc=$? report=""
  set +e
  trap - ERR
  # ci/smoke.sh reports its own failed step; a failure around it is reported here.
  steps_stop "$rc" "$smoke_report"
  report="$STEPS_REPORT"
  keep_log
  if [[ "$KEEP_CLUSTER" == 1 ]]; then
    cluster_log "keeping the cluster (stop it with: make cluster-down)"
    printf 'KUBECONFIG=%s\nCLUSTER_NETNS=%s\n' "$CLUSTER_KUBECONFIG" "$CLUSTER_NETNS"
  else
    step "teardown (ci/cluster/down.sh)"
    if ! "$REPO_ROOT/ci/cluster/down.sh"; then
      STEP_ERROR="ci/cluster/down.sh failed"
      steps_failed
      [[ -n "$report" ]] || report="$(steps_report)"
      rc=1
    fi
    steps_close
  fi
  { cat "$smoke_times"; steps_times; } >"$CLUSTER_STATE/step-times.tsv"
  if ((rc != 0)); then
    printf '%s\ncluster-smoke: full log: %s\n' "$report" "$SMOKE_LOG" >&2
  fi
  rm -f "$smoke_report" "$smoke_times"
  cluster_log "cluster smoke test: $( ((rc == 0)) && echo passed || echo "FAILED (exit $rc)") in ${SECONDS}s"
  steps_end
  # The copies of the output reach the log before the caller reads it.
  exec >&- 2>&-
  wait "$tee_out" "$tee_err" 2>/dev/null
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

step "cluster up (ci/cluster/up.sh)"
"$REPO_ROOT/ci/cluster/up.sh" >/dev/null
keep_log

step "image (ci/build-image.sh)"
IMAGE="$IMAGE" CONTAINER_ENGINE=podman "$REPO_ROOT/ci/build-image.sh"

# The releases, as users get them: charts and images from the registry, by digest. The
# node pulls them (nothing of the release path is imported by tarball).
step "releases in the cluster's registry (ci/cluster/release.sh)"
mapfile -t release_env < <(IMAGE="$IMAGE" "$REPO_ROOT/ci/cluster/release.sh")
((${#release_env[@]} == 7)) || fail "ci/cluster/release.sh published nothing"
for assignment in "${release_env[@]}"; do
  export "${assignment?}"
done

# The monitoring stack's images (operator, config reloader, Debian's Prometheus).
if [[ "${SMOKE_MONITORING:-1}" == 1 ]]; then
  step "monitoring images (ci/cluster/monitoring-images.sh)"
  mapfile -t monitoring_env < <("$REPO_ROOT/ci/cluster/monitoring-images.sh")
  ((${#monitoring_env[@]} == 3)) || fail "the monitoring images were not built"
  for assignment in "${monitoring_env[@]}"; do
    export "${assignment?}"
  done
fi

# The TLS edge's controller: Traefik built by ci/install-tools.sh (ci/traefik), FROM scratch.
step "edge controller image (Traefik $TRAEFIK_VERSION)"
[[ -x "$TOOLS_BIN/traefik-test" ]] || fail "$TOOLS_BIN/traefik-test missing: run ci/install-tools.sh"
traefik_image="$(scratch_image traefik "$TRAEFIK_VERSION" "$TOOLS_BIN/traefik-test")"
"$REPO_ROOT/ci/cluster/load-image.sh" "$traefik_image"

step "ci/smoke.sh"
SMOKE_REPORT="$smoke_report" SMOKE_STEP_TIMES="$smoke_times" KEEP="$KEEP_CLUSTER" \
  KUBECONFIG="$CLUSTER_KUBECONFIG" PATH="$CLUSTER_BIN:$PATH" IMAGE_PULL_POLICY=IfNotPresent \
  SMOKE_TRACING_ENDPOINT="$CLUSTER_OTLP_ENDPOINT" SMOKE_TRACING_SPANS="$CLUSTER_STATE/traces/spans.jsonl" \
  PROM_CRDS="$prom_crds" GATEWAY_CRDS="$gateway_crds" \
  SMOKE_NODE_CONTROL="$REPO_ROOT/ci/cluster/node.sh" SMOKE_LOGS_URL="$CLUSTER_LOGS_URL" \
  HELM_PLAIN_HTTP=1 SMOKE_HELM3="$TOOLS_BIN/helm3" SMOKE_TRAEFIK_IMAGE="$traefik_image" \
  in_netns "$REPO_ROOT/ci/smoke.sh"
