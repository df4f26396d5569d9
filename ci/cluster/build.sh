#!/usr/bin/env bash
# Builds the test cluster's binaries from the tools module ci/cluster/tools into
# $TOOLS_CACHE/cluster/bin: kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
# kube-proxy, kubectl (k8s.io/kubernetes $KUBERNETES_VERSION), a minimal CoreDNS and the pod
# sandbox program "pause"; and from ci/cluster/monitoring the Prometheus Operator and its config
# reloader ($PROM_OPERATOR_VERSION) and Prometheus ($PROMETHEUS_VERSION). Static, stripped. Skipped when the binaries of the same module
# (go.mod, go.sum, main packages) and Go version are already there; the Go build cache is not
# kept by this script (a cold build fills ~3.6 GB of it; the binaries are ~0.5 GB).
# Called by ci/install-tools.sh; prints one line.
set -euo pipefail

# shellcheck source=ci/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl coredns pause)

key="$(cluster_bin_key)"
if [[ -f "$CLUSTER_BIN/.key" && "$(<"$CLUSTER_BIN/.key")" == "$key" ]]; then
  printf '==> %-15s %-18s %s\n' kubernetes "$KUBERNETES_VERSION" "already present" >&2
  exit 0
fi

version="$(cd "$CLUSTER_TOOLS_DIR" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
[[ "$version" == "$KUBERNETES_VERSION" ]] ||
  cluster_die "ci/cluster/tools/go.mod requires k8s.io/kubernetes $version, ci/versions.env says $KUBERNETES_VERSION"
[[ "$version" =~ ^v([0-9]+)\.([0-9]+)\. ]] || cluster_die "cannot parse $version"
major="${BASH_REMATCH[1]}"
minor="${BASH_REMATCH[2]}"

# The version stamps a Kubernetes release build sets. Without them the API server reports
# v0.0.0-master, which charts' kubeVersion constraints (ours: >= 1.25) refuse.
ldflags=(-s -w)
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=(
    "-X $pkg.gitVersion=$version" "-X $pkg.gitMajor=$major" "-X $pkg.gitMinor=$minor"
    "-X $pkg.gitTreeState=clean" "-X $pkg.buildDate=1970-01-01T00:00:00Z"
  )
done

start=$SECONDS
mkdir -p "$TOOLS_CACHE/cluster"
staging="$(mktemp -d "$TOOLS_CACHE/cluster/bin.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
log_file="$TOOLS_CACHE/logs/cluster-build.log"
mkdir -p "$(dirname "$log_file")"
packages=()
for bin in "${BINARIES[@]}"; do
  case "$bin" in
    coredns | pause) packages+=("./$bin") ;;
    *) packages+=("k8s.io/kubernetes/cmd/$bin") ;;
  esac
done
if ! (cd "$CLUSTER_TOOLS_DIR" && CGO_ENABLED=0 go build -trimpath -buildvcs=false \
  -ldflags="${ldflags[*]}" -o "$staging/" "${packages[@]}") >"$log_file" 2>&1; then
  tail -n 60 "$log_file" >&2
  cluster_die "building the cluster binaries failed (full log: $log_file)"
fi

# The monitoring stack, each with the version stamp (prometheus/common/version) of its release
# build.
# monitoring_build PACKAGE VERSION: builds one command of the monitoring module.
monitoring_build() {
  local flags="-s -w" var
  for var in "Version=${2#v}" "Revision=$2" "Branch=release"; do
    flags+=" -X github.com/prometheus/common/version.$var"
  done
  (cd "$MONITORING_TOOLS_DIR" && CGO_ENABLED=0 go build -trimpath -buildvcs=false \
    -ldflags="$flags" -o "$staging/" "$1") >>"$log_file" 2>&1 || {
    tail -n 60 "$log_file" >&2
    cluster_die "building $1 failed (full log: $log_file)"
  }
}
module_version() { (cd "$MONITORING_TOOLS_DIR" && go list -m -f '{{.Version}}' "$1"); }
operator_module=github.com/prometheus-operator/prometheus-operator
[[ "$(module_version "$operator_module")" == "$PROM_OPERATOR_VERSION" ]] ||
  cluster_die "ci/cluster/monitoring/go.mod does not require $operator_module $PROM_OPERATOR_VERSION"
# Prometheus vX.Y.Z is the Go module version v0.X<Y, two digits>.Z.
prometheus_module_version="$(module_version github.com/prometheus/prometheus)"
if [[ ! "$prometheus_module_version" =~ ^v0\.([0-9])([0-9]{2})\.([0-9]+)$ ]] ||
  [[ "v${BASH_REMATCH[1]}.$((10#${BASH_REMATCH[2]})).${BASH_REMATCH[3]}" != "$PROMETHEUS_VERSION" ]]; then
  cluster_die "ci/cluster/monitoring/go.mod requires Prometheus $prometheus_module_version, ci/versions.env says $PROMETHEUS_VERSION"
fi
monitoring_build "$operator_module/cmd/operator" "$PROM_OPERATOR_VERSION"
monitoring_build "$operator_module/cmd/prometheus-config-reloader" "$PROM_OPERATOR_VERSION"
monitoring_build github.com/prometheus/prometheus/cmd/prometheus "$PROMETHEUS_VERSION"
for bin in "${BINARIES[@]}" operator prometheus-config-reloader prometheus; do
  [[ -x "$staging/$bin" ]] || cluster_die "go build made no $bin"
done
printf '%s\n' "$key" >"$staging/.key"
rm -rf "$CLUSTER_BIN"
mv "$staging" "$CLUSTER_BIN"
chmod 0755 "$CLUSTER_BIN"
printf '==> %-15s %-18s %s\n' kubernetes "$KUBERNETES_VERSION" \
  "installed ($((SECONDS - start)) s, $(du -sh "$CLUSTER_BIN" | cut -f1))" >&2
