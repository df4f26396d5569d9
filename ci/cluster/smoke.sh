#!/usr/bin/env bash
# `make cluster-smoke`: the smoke test (ci/smoke.sh, the same script kind users run) on the
# project's own single-node cluster: ci/cluster/up.sh, build the image with podman on the
# local base image (as `LOCAL_BASE=1 make image` does), publish it and the chart, and the
# previous release's, to the cluster's OCI registry (ci/cluster/release.sh), build and load
# the monitoring images, run ci/smoke.sh inside the cluster's network namespace (installing
# the released charts from oci://, images pinned by digest and pulled by the node, CRDs from
# the tool cache), then ci/cluster/down.sh (also on failure or Ctrl-C).
#
# Environment:
#   KEEP_CLUSTER=1  leave the cluster and the release running and print KUBECONFIG=... and
#                   CLUSTER_NETNS=...; `make cluster-down` stops it
#   IMAGE [production-api:dev]  LOCAL_BASE [1]  (ci/build-image.sh)
#   CLUSTER_NAME, CLUSTER_STATE (ci/cluster/lib.sh); RELEASE, NAMESPACE, ... (ci/smoke.sh)
set -euo pipefail

# shellcheck source=ci/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEEP_CLUSTER="${KEEP_CLUSTER:-0}"
IMAGE="${IMAGE:-production-api:dev}"
export LOCAL_BASE="${LOCAL_BASE:-1}"

prom_crds="$TOOLS_CACHE/schemas/prometheus-operator-$PROM_OPERATOR_VERSION"
gateway_crds="$TOOLS_CACHE/schemas/gateway-api-$GATEWAY_API_VERSION"
for dir in "$prom_crds" "$gateway_crds"; do
  [[ -d "$dir" ]] || cluster_die "$dir missing: run ci/install-tools.sh"
done

finish() {
  local rc=$?
  if [[ "$KEEP_CLUSTER" == 1 ]]; then
    cluster_log "keeping the cluster (stop it with: make cluster-down)"
    printf 'KUBECONFIG=%s\nCLUSTER_NETNS=%s\n' "$CLUSTER_KUBECONFIG" "$CLUSTER_NETNS"
  else
    "$REPO_ROOT/ci/cluster/down.sh" || rc=1
  fi
  cluster_log "cluster smoke test: $( ((rc == 0)) && echo passed || echo "FAILED (exit $rc)") in ${SECONDS}s"
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

"$REPO_ROOT/ci/cluster/up.sh" >/dev/null

IMAGE="$IMAGE" CONTAINER_ENGINE=podman "$REPO_ROOT/ci/build-image.sh"
# The releases, as users get them: charts and images from the registry, by digest. The
# node pulls them (nothing of the release path is imported by tarball).
mapfile -t release_env < <(IMAGE="$IMAGE" "$REPO_ROOT/ci/cluster/release.sh")
((${#release_env[@]} == 7)) || cluster_die "ci/cluster/release.sh published nothing"
for assignment in "${release_env[@]}"; do
  export "${assignment?}"
done

# The monitoring stack's images (operator, config reloader, Debian's Prometheus).
if [[ "${SMOKE_MONITORING:-1}" == 1 ]]; then
  mapfile -t monitoring_env < <("$REPO_ROOT/ci/cluster/monitoring-images.sh")
  ((${#monitoring_env[@]} == 3)) || cluster_die "the monitoring images were not built"
  for assignment in "${monitoring_env[@]}"; do
    export "${assignment?}"
  done
fi

cluster_log "ci/smoke.sh"
KEEP="$KEEP_CLUSTER" KUBECONFIG="$CLUSTER_KUBECONFIG" PATH="$CLUSTER_BIN:$PATH" \
  IMAGE_PULL_POLICY=IfNotPresent \
  SMOKE_TRACING_ENDPOINT="$CLUSTER_OTLP_ENDPOINT" SMOKE_TRACING_SPANS="$CLUSTER_STATE/traces/spans.jsonl" \
  PROM_CRDS="$prom_crds" GATEWAY_CRDS="$gateway_crds" \
  in_netns "$REPO_ROOT/ci/smoke.sh"
