#!/usr/bin/env bash
# The smoke test on a throw-away kind cluster: create the cluster (ci/kind-config.yaml), build
# the image, load it into the node, run ci/smoke.sh against it, delete the cluster. The cluster
# gets its own kubeconfig; the user's kube contexts are not touched.
#
# kind runs its nodes with docker (its default) or podman (KIND_EXPERIMENTAL_PROVIDER=podman,
# kind's own switch). With podman, the image is saved as an archive (`kind load image-archive`),
# podman runs with ci/podman.sh's configuration (runc on cgroup v1, ulimits the host allows),
# and the run makes what kind needs on the host and removes it afterwards: a podman network of
# its own (IPv4), an empty /lib/modules if the host has none; the kubelet's kernel settings
# (kernel.panic, vm.overcommit_memory, ...) are put back as they were.
#
# KIND_OFFLINE=1 pulls nothing: the node image is the one ci/kind/node-image.sh builds from
# Debian packages and Go modules (cached), the app's base image is built locally
# (LOCAL_BASE=1), the CRDs come from ci/install-tools.sh's cache, and the monitoring part's
# images are built from ci/cluster's binaries. `make test` runs it so, with podman.
#
# Needs kubectl, helm, docker or podman, and kind or Go (to build the pinned kind).
# Environment (defaults in brackets):
#   KIND_CLUSTER [production-api-smoke]  KIND_VERSION [v0.33.0, ci/versions.env]
#   KIND_EXPERIMENTAL_PROVIDER [docker]  podman: kind's podman provider
#   KIND_OFFLINE [0]      1: nothing pulled (above; needs podman)
#   KIND_NODE_IMAGE       the node image [kind's default for KIND_VERSION; with KIND_OFFLINE=1
#                         ci/kind/node-image.sh's]
#   IMAGE_REPOSITORY [production-api; localhost/production-api with podman]  IMAGE_TAG [smoke]
#   KEEP_CLUSTER=1        keep the cluster (its kubeconfig path is printed; the host set-up
#                         stays until `kind delete cluster` and the network is removed by hand)
#   KIND_STEP_TIMES       a file for each step's seconds ("<seconds>\t<step>" lines, ci/smoke.sh's
#                         steps among them)
# Everything else (RELEASE, NAMESPACE, SMOKE_MONITORING, ...) is passed through to ci/smoke.sh.
# On failure the last lines name the step that failed (a step of ci/smoke.sh or one of this
# script's), its error and what it printed last.
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=ci/versions.env
source "$REPO_ROOT/ci/versions.env"

KIND_CLUSTER="${KIND_CLUSTER:-production-api-smoke}"
KIND_OFFLINE="${KIND_OFFLINE:-0}"
KIND_NODE_IMAGE="${KIND_NODE_IMAGE:-}"
KEEP_CLUSTER="${KEEP_CLUSTER:-0}"
provider="${KIND_EXPERIMENTAL_PROVIDER:-docker}"
case "$provider" in
  docker) engine=(docker) ;;
  podman) engine=("$REPO_ROOT/ci/podman.sh") ;;
  *) die "kind-smoke: KIND_EXPERIMENTAL_PROVIDER is '$provider'; docker or podman" ;;
esac
[[ "$KIND_OFFLINE" != 1 || "$provider" == podman ]] ||
  die "kind-smoke: KIND_OFFLINE=1 builds its images with podman: set KIND_EXPERIMENTAL_PROVIDER=podman"
if [[ "$provider" == podman ]]; then
  export IMAGE_REPOSITORY="${IMAGE_REPOSITORY:-localhost/production-api}"
else
  export IMAGE_REPOSITORY="${IMAGE_REPOSITORY:-production-api}"
fi
export IMAGE_TAG="${IMAGE_TAG:-smoke}"
# kind loads the image into the node; it must never be pulled.
export IMAGE_PULL_POLICY="${IMAGE_PULL_POLICY:-Never}"
image="$IMAGE_REPOSITORY:$IMAGE_TAG"

for tool in "$provider" kubectl helm; do
  command -v "$tool" >/dev/null || die "kind-smoke: $tool not found on PATH"
done
timeout 30 "${engine[@]}" info >/dev/null 2>&1 || die "kind-smoke: '$provider info' fails"
if [[ "$provider" == podman && -z "${CONTAINERS_CONF:-}" ]]; then
  # kind calls podman itself: it must see the configuration ci/podman.sh just wrote.
  export CONTAINERS_CONF="$TOOLS_CACHE/podman/containers.conf"
fi

# kind: the pinned version, from $TOOLS_BIN (ci/install-tools.sh builds it) or built with Go.
kind_version() { kind version 2>/dev/null | awk '{print $2}'; }
if [[ "$(kind_version)" != "$KIND_VERSION" ]]; then
  command -v go >/dev/null || die "kind-smoke: kind $KIND_VERSION not found and no Go to build it"
  log "go install sigs.k8s.io/kind@$KIND_VERSION"
  mkdir -p "$TOOLS_BIN"
  GOBIN="$TOOLS_BIN" CGO_ENABLED=0 go install "sigs.k8s.io/kind@$KIND_VERSION"
fi
log "$(kind version), provider $provider"

if [[ "$KIND_OFFLINE" == 1 ]]; then
  export LOCAL_BASE=1
  export PROM_CRDS="${PROM_CRDS:-$TOOLS_CACHE/schemas/prometheus-operator-$PROM_OPERATOR_VERSION}"
  export GATEWAY_CRDS="${GATEWAY_CRDS:-$TOOLS_CACHE/schemas/gateway-api-$GATEWAY_API_VERSION}"
  for dir in "$PROM_CRDS" "$GATEWAY_CRDS"; do
    [[ -d "$dir" ]] || die "kind-smoke: $dir missing: run ci/install-tools.sh"
  done
fi

# ---------------------------------------------------------------------------------------------
# The host set-up kind needs here, each part undone by the cleanup below.

work="$(mktemp -d)"
export KUBECONFIG="$work/kubeconfig"
made_modules=0
made_network=""
made_image=0
# The kernel settings the node's kubelet makes on the host (its privileged container shares
# the host's kernel): recorded now, put back afterwards.
KUBELET_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
sysctls_before=()
if [[ "$provider" == podman ]]; then
  for key in "${KUBELET_SYSCTLS[@]}"; do
    sysctls_before+=("$key=$(sysctl -n "$key")")
  done
fi
steps_begin kind-smoke
smoke_report="$work/smoke-report.txt"
smoke_times="$work/smoke-times.tsv"

cleanup() {
  local rc=$? report=""
  set +e
  trap - ERR
  # ci/smoke.sh reports its own failed step; a failure around it is reported here.
  steps_stop "$rc" "$smoke_report"
  report="$STEPS_REPORT"
  if [[ "$KEEP_CLUSTER" == 1 ]]; then
    log "keeping cluster $KIND_CLUSTER (KUBECONFIG=$KUBECONFIG)"
  else
    step "kind delete cluster --name $KIND_CLUSTER"
    kind delete cluster --name "$KIND_CLUSTER" >/dev/null 2>&1
    if [[ "$provider" == podman ]]; then
      restore_podman_host
    fi
    ((made_image)) && "${engine[@]}" rmi "$image" >/dev/null
    steps_close
  fi
  if [[ -n "${KIND_STEP_TIMES:-}" ]]; then
    { [[ ! -f "$smoke_times" ]] || cat "$smoke_times"; steps_times; } >"$KIND_STEP_TIMES"
  fi
  [[ "$KEEP_CLUSTER" == 1 ]] || rm -rf "$work"
  log "kind smoke test: $( ((rc == 0)) && echo passed || echo "FAILED (exit $rc)") in ${SECONDS}s"
  ((rc == 0)) || printf '%s\n' "$report" >&2
  steps_end
  exit "$rc"
}

# restore_podman_host: what kind leaves (node containers after a failed delete) and what this
# script made, removed; the kubelet's kernel settings put back.
restore_podman_host() {
  local left=()
  mapfile -t left < <("${engine[@]}" ps -a -q --filter "label=io.x-k8s.kind.cluster=$KIND_CLUSTER")
  if ((${#left[@]})); then
    log "removing the node containers kind left: ${left[*]}"
    "${engine[@]}" rm -f -v "${left[@]}" >/dev/null
  fi
  [[ -z "$made_network" ]] || "${engine[@]}" network rm "$made_network" >/dev/null
  ((made_modules == 0)) || rmdir /lib/modules
  ((${#sysctls_before[@]} == 0)) || sysctl -q -w "${sysctls_before[@]}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ "$provider" == podman ]]; then
  step "host set-up for kind on podman"
  # kind mounts /lib/modules into the node (read only); containers here may lack it.
  if [[ ! -e /lib/modules ]]; then
    mkdir /lib/modules
    made_modules=1
  fi
  # A network of the run's own, IPv4 only: kind's default `kind` network would be shared
  # with other clusters and left behind, and it asks for an IPv6 subnet.
  if [[ -z "${KIND_EXPERIMENTAL_PODMAN_NETWORK:-}" ]]; then
    export KIND_EXPERIMENTAL_PODMAN_NETWORK="$KIND_CLUSTER"
    if ! "${engine[@]}" network exists "$KIND_EXPERIMENTAL_PODMAN_NETWORK"; then
      "${engine[@]}" network create --driver bridge "$KIND_EXPERIMENTAL_PODMAN_NETWORK" >/dev/null
      made_network="$KIND_EXPERIMENTAL_PODMAN_NETWORK"
    fi
  fi
fi

# ---------------------------------------------------------------------------------------------
# The cluster, the image in its node, the smoke test.

if [[ "$KIND_OFFLINE" == 1 && -z "$KIND_NODE_IMAGE" ]]; then
  step "node image (ci/kind/node-image.sh)"
  KIND_NODE_IMAGE="$("$REPO_ROOT/ci/kind/node-image.sh")"
fi

create_args=(--name "$KIND_CLUSTER" --config "$REPO_ROOT/ci/kind-config.yaml" --wait 180s)
[[ -n "$KIND_NODE_IMAGE" ]] && create_args+=(--image "$KIND_NODE_IMAGE")
step "kind create cluster ${create_args[*]}"
kind create cluster "${create_args[@]}"

step "image $image (ci/build-image.sh)"
"${engine[@]}" image inspect "$image" >/dev/null 2>&1 || made_image=1
IMAGE="$image" CONTAINER_ENGINE="$provider" "$REPO_ROOT/ci/build-image.sh"
images=("$image")
if [[ "$KIND_OFFLINE" == 1 && "${SMOKE_MONITORING:-1}" == 1 ]]; then
  # The monitoring stack's images, FROM scratch with ci/cluster's binaries (the test cluster's).
  # shellcheck source=ci/cluster/lib.sh
  source "$REPO_ROOT/ci/cluster/lib.sh"
  PROM_OPERATOR_IMAGE="$(scratch_image prometheus-operator "$PROM_OPERATOR_VERSION" "$CLUSTER_BIN/operator")"
  PROM_CONFIG_RELOADER_IMAGE="$(scratch_image prometheus-config-reloader "$PROM_OPERATOR_VERSION" "$CLUSTER_BIN/prometheus-config-reloader")"
  PROMETHEUS_IMAGE="$(scratch_image prometheus "$PROMETHEUS_VERSION" "$CLUSTER_BIN/prometheus")"
  export PROM_OPERATOR_IMAGE PROM_CONFIG_RELOADER_IMAGE PROMETHEUS_IMAGE
  images+=("$PROM_OPERATOR_IMAGE" "$PROM_CONFIG_RELOADER_IMAGE" "$PROMETHEUS_IMAGE")
fi

if [[ "$provider" == podman ]]; then
  step "kind load image-archive ${images[*]}"
  "${engine[@]}" save --quiet --multi-image-archive --format docker-archive \
    -o "$work/images.tar" "${images[@]}"
  kind load image-archive "$work/images.tar" --name "$KIND_CLUSTER"
  rm -f "$work/images.tar"
else
  step "kind load docker-image ${images[*]}"
  kind load docker-image "${images[@]}" --name "$KIND_CLUSTER"
fi

step "ci/smoke.sh"
SMOKE_REPORT="$smoke_report" SMOKE_STEP_TIMES="$smoke_times" "$REPO_ROOT/ci/smoke.sh"
