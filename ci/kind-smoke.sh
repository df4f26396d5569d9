#!/usr/bin/env bash
# The smoke test on a throw-away kind cluster: create the cluster (ci/kind-config.yaml), build
# the image with docker, `kind load docker-image`, run ci/smoke.sh against it, delete the
# cluster. Needs docker (a running engine), kubectl, helm and either kind or Go (to build the
# pinned kind). The cluster gets its own kubeconfig; the user's kube contexts are not touched.
#
# Environment (defaults in brackets):
#   KIND_CLUSTER [production-api-smoke]  KIND_VERSION [v0.33.0]
#   KIND_NODE_IMAGE [kind's default node image for KIND_VERSION]
#   IMAGE_REPOSITORY [production-api]  IMAGE_TAG [smoke]
#   KEEP_CLUSTER=1  keep the cluster (its kubeconfig path is printed)
# Everything else (RELEASE, NAMESPACE, ...) is passed through to ci/smoke.sh.
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KIND_CLUSTER="${KIND_CLUSTER:-production-api-smoke}"
KIND_VERSION="${KIND_VERSION:-v0.33.0}"
KIND_NODE_IMAGE="${KIND_NODE_IMAGE:-}"
KEEP_CLUSTER="${KEEP_CLUSTER:-0}"
export IMAGE_REPOSITORY="${IMAGE_REPOSITORY:-production-api}"
export IMAGE_TAG="${IMAGE_TAG:-smoke}"
# kind loads the image into the node; it must never be pulled.
export IMAGE_PULL_POLICY="${IMAGE_PULL_POLICY:-Never}"

for tool in docker kubectl helm; do
  command -v "$tool" >/dev/null || die "kind-smoke: $tool not found on PATH"
done
timeout 30 docker info >/dev/null 2>&1 || die "kind-smoke: the docker engine is not reachable"

# kind: the pinned version, built into $TOOLS_BIN with Go unless already there.
kind_version() { kind version 2>/dev/null | awk '{print $2}'; }
if [[ "$(kind_version)" != "$KIND_VERSION" ]]; then
  command -v go >/dev/null || die "kind-smoke: kind $KIND_VERSION not found and no Go to build it"
  log "go install sigs.k8s.io/kind@$KIND_VERSION"
  mkdir -p "$TOOLS_BIN"
  GOBIN="$TOOLS_BIN" CGO_ENABLED=0 go install "sigs.k8s.io/kind@$KIND_VERSION"
fi
log "$(kind version)"

work="$(mktemp -d)"
export KUBECONFIG="$work/kubeconfig"
cleanup() {
  local rc=$?
  set +e
  if [[ "$KEEP_CLUSTER" == 1 ]]; then
    log "keeping cluster $KIND_CLUSTER (KUBECONFIG=$KUBECONFIG)"
  else
    log "kind delete cluster $KIND_CLUSTER"
    kind delete cluster --name "$KIND_CLUSTER" >/dev/null 2>&1
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

create_args=(--name "$KIND_CLUSTER" --config "$REPO_ROOT/ci/kind-config.yaml" --wait 180s)
[[ -n "$KIND_NODE_IMAGE" ]] && create_args+=(--image "$KIND_NODE_IMAGE")
log "kind create cluster ${create_args[*]}"
kind create cluster "${create_args[@]}"

image="$IMAGE_REPOSITORY:$IMAGE_TAG"
IMAGE="$image" CONTAINER_ENGINE=docker "$REPO_ROOT/ci/build-image.sh"
log "kind load docker-image $image"
kind load docker-image "$image" --name "$KIND_CLUSTER"

"$REPO_ROOT/ci/smoke.sh"
