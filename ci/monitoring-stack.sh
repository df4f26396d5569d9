#!/usr/bin/env bash
# Installs a Prometheus Operator and one Prometheus on the current kube context, selecting
# ServiceMonitors and PrometheusRules the way kube-prometheus-stack does: by the label
# `release: <MONITORING_RELEASE>` in every namespace. The operator gets the ServiceAccount and
# RBAC its documentation prescribes (example/rbac/ of the operator's repository), the
# Prometheus its own ServiceAccount and read-only RBAC for Kubernetes service discovery.
# The manifests are ci/monitoring-stack/*.yaml, filled in by `render` (ci/lib.sh).
# Used by ci/smoke.sh (SMOKE_MONITORING=1); needs the Prometheus Operator CRDs.
#
#   ci/monitoring-stack.sh up     # apply, wait for the operator and Prometheus to be ready
#   ci/monitoring-stack.sh down   # delete the namespace and the cluster-wide RBAC
#
# Environment (defaults in brackets; versions from ci/versions.env):
#   MONITORING_NAMESPACE [monitoring]  MONITORING_RELEASE [kube-prometheus-stack]
#   PROM_OPERATOR_IMAGE [quay.io/prometheus-operator/prometheus-operator:$PROM_OPERATOR_VERSION]
#   PROM_CONFIG_RELOADER_IMAGE [quay.io/prometheus-operator/prometheus-config-reloader:...]
#   PROMETHEUS_IMAGE [quay.io/prometheus/prometheus:$PROMETHEUS_VERSION]
#   MONITORING_TIMEOUT [180] seconds for the operator and Prometheus to become ready
#   MONITORING_NODE  the node the operator and Prometheus run on [any]: the smoke test keeps
#                    them off the nodes it drains and stops
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=ci/versions.env
source "$REPO_ROOT/ci/versions.env"

NS="${MONITORING_NAMESPACE:-monitoring}"
RELEASE_LABEL="${MONITORING_RELEASE:-kube-prometheus-stack}"
OPERATOR_IMAGE="${PROM_OPERATOR_IMAGE:-quay.io/prometheus-operator/prometheus-operator:$PROM_OPERATOR_VERSION}"
RELOADER_IMAGE="${PROM_CONFIG_RELOADER_IMAGE:-quay.io/prometheus-operator/prometheus-config-reloader:$PROM_OPERATOR_VERSION}"
PROMETHEUS_IMAGE="${PROMETHEUS_IMAGE:-quay.io/prometheus/prometheus:$PROMETHEUS_VERSION}"
TIMEOUT="${MONITORING_TIMEOUT:-180}"
NODE_SELECTOR="{}"
[[ -z "${MONITORING_NODE:-}" ]] || NODE_SELECTOR="{kubernetes.io/hostname: $MONITORING_NODE}"
# Cluster-wide objects carry the namespace in their names, so two stacks can coexist.
OPERATOR_ROLE="smoke-prometheus-operator-$NS"
PROMETHEUS_ROLE="smoke-prometheus-$NS"

kc() { kubectl --namespace "$NS" "$@"; }

# manifest NAME: ci/monitoring-stack/NAME.yaml with this stack's names and images.
manifest() {
  render "$REPO_ROOT/ci/monitoring-stack/$1.yaml" NAMESPACE="$NS" RELEASE_LABEL="$RELEASE_LABEL" \
    OPERATOR_ROLE="$OPERATOR_ROLE" PROMETHEUS_ROLE="$PROMETHEUS_ROLE" \
    OPERATOR_IMAGE="$OPERATOR_IMAGE" RELOADER_IMAGE="$RELOADER_IMAGE" \
    PROMETHEUS_IMAGE="$PROMETHEUS_IMAGE" PROMETHEUS_VERSION="$PROMETHEUS_VERSION" \
    NODE_SELECTOR="$NODE_SELECTOR"
}

prometheus_available() {
  [[ "$(kc get prometheus smoke -o jsonpath='{.status.availableReplicas}' 2>/dev/null)" == 1 ]]
}

down() {
  kubectl delete namespace "$NS" --ignore-not-found --wait=false >/dev/null
  kubectl delete clusterrolebinding,clusterrole "$OPERATOR_ROLE" "$PROMETHEUS_ROLE" \
    --ignore-not-found >/dev/null
}

dump() {
  {
    echo "---------------- diagnostics (namespace $NS) ----------------"
    kc get all,prometheus -o wide || true
    kc get events --sort-by=.lastTimestamp | tail -n 30 || true
    kc describe pods || true
    kc logs deployment/prometheus-operator --tail=100 || true
    kc logs -l app.kubernetes.io/name=prometheus --all-containers --prefix --tail=100 || true
  } >&2
}

up() {
  local start=$SECONDS
  kubectl get crd prometheuses.monitoring.coreos.com >/dev/null ||
    die "monitoring-stack: the Prometheus Operator CRDs are not installed"
  {
    manifest operator
    echo ---
    manifest prometheus-rbac
  } | kubectl apply -f - >/dev/null
  kc rollout status deployment/prometheus-operator --timeout="${TIMEOUT}s" >/dev/null || { dump; exit 1; }

  manifest prometheus | kc apply -f - >/dev/null
  if ! wait_until "$TIMEOUT" prometheus_available; then
    dump
    die "monitoring-stack: Prometheus not available after ${TIMEOUT}s"
  fi
  log "monitoring: Prometheus Operator $PROM_OPERATOR_VERSION and Prometheus $PROMETHEUS_VERSION ready in $((SECONDS - start))s (namespace $NS)"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *)
    echo "usage: ci/monitoring-stack.sh up|down" >&2
    exit 2
    ;;
esac
