#!/usr/bin/env bash
# Installs a Prometheus Operator and one Prometheus on the current kube context, selecting
# ServiceMonitors and PrometheusRules the way kube-prometheus-stack does: by the label
# `release: <MONITORING_RELEASE>` in every namespace. The operator gets the ServiceAccount and
# RBAC its documentation prescribes (example/rbac/ of the operator's repository), the
# Prometheus its own ServiceAccount and read-only RBAC for Kubernetes service discovery.
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
# Cluster-wide objects carry the namespace in their names, so two stacks can coexist.
OPERATOR_ROLE="smoke-prometheus-operator-$NS"
PROMETHEUS_ROLE="smoke-prometheus-$NS"

kc() { kubectl --namespace "$NS" "$@"; }

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
    { echo "monitoring-stack: the Prometheus Operator CRDs are not installed" >&2; exit 1; }
  kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $NS
  labels:
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: prometheus-operator
  namespace: $NS
automountServiceAccountToken: true
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: $OPERATOR_ROLE
rules:
  - apiGroups: [monitoring.coreos.com]
    resources:
      - alertmanagers
      - alertmanagers/finalizers
      - alertmanagers/status
      - alertmanagerconfigs
      - prometheuses
      - prometheuses/finalizers
      - prometheuses/status
      - prometheusagents
      - prometheusagents/finalizers
      - prometheusagents/status
      - thanosrulers
      - thanosrulers/finalizers
      - thanosrulers/status
      - scrapeconfigs
      - servicemonitors
      - podmonitors
      - probes
      - prometheusrules
    verbs: ["*"]
  - apiGroups: [apps]
    resources: [statefulsets]
    verbs: ["*"]
  - apiGroups: [""]
    resources: [configmaps, secrets]
    verbs: ["*"]
  - apiGroups: [""]
    resources: [pods]
    verbs: [list, delete]
  - apiGroups: [""]
    resources: [services, services/finalizers, endpoints]
    verbs: [get, create, update, delete]
  - apiGroups: [""]
    resources: [nodes]
    verbs: [list, watch]
  - apiGroups: [""]
    resources: [namespaces]
    verbs: [get, list, watch]
  - apiGroups: [""]
    resources: [events]
    verbs: [patch, create]
  - apiGroups: [networking.k8s.io]
    resources: [ingresses]
    verbs: [get, list, watch]
  - apiGroups: [storage.k8s.io]
    resources: [storageclasses]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: $OPERATOR_ROLE
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: $OPERATOR_ROLE}
subjects:
  - {kind: ServiceAccount, name: prometheus-operator, namespace: $NS}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: prometheus-operator
  namespace: $NS
  labels: {app.kubernetes.io/name: prometheus-operator}
spec:
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/name: prometheus-operator}
  template:
    metadata:
      labels: {app.kubernetes.io/name: prometheus-operator}
    spec:
      serviceAccountName: prometheus-operator
      securityContext:
        runAsNonRoot: true
        runAsUser: 65534
        runAsGroup: 65534
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: prometheus-operator
          image: $OPERATOR_IMAGE
          args:
            - --prometheus-config-reloader=$RELOADER_IMAGE
            - --log-format=logfmt
          ports:
            - {name: http, containerPort: 8080}
          readinessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 2
          resources:
            requests: {cpu: 50m, memory: 64Mi}
            limits: {cpu: 500m, memory: 200Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: prometheus
  namespace: $NS
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: $PROMETHEUS_ROLE
rules:
  - apiGroups: [""]
    resources: [nodes, nodes/metrics, services, endpoints, pods]
    verbs: [get, list, watch]
  - apiGroups: [""]
    resources: [configmaps]
    verbs: [get]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [get, list, watch]
  - apiGroups: [networking.k8s.io]
    resources: [ingresses]
    verbs: [get, list, watch]
  - nonResourceURLs: [/metrics]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: $PROMETHEUS_ROLE
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: $PROMETHEUS_ROLE}
subjects:
  - {kind: ServiceAccount, name: prometheus, namespace: $NS}
EOF
  kc rollout status deployment/prometheus-operator --timeout="${TIMEOUT}s" >/dev/null || { dump; exit 1; }

  # The Prometheus, as kube-prometheus-stack configures its own: ServiceMonitors and rules
  # with the release label, from every namespace. Short intervals for the smoke test.
  kc apply -f - >/dev/null <<EOF
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata:
  name: smoke
  namespace: $NS
spec:
  image: $PROMETHEUS_IMAGE
  version: $PROMETHEUS_VERSION
  replicas: 1
  serviceAccountName: prometheus
  serviceMonitorSelector:
    matchLabels: {release: $RELEASE_LABEL}
  serviceMonitorNamespaceSelector: {}
  ruleSelector:
    matchLabels: {release: $RELEASE_LABEL}
  ruleNamespaceSelector: {}
  scrapeInterval: 5s
  evaluationInterval: 5s
  resources:
    requests: {cpu: 50m, memory: 128Mi}
    limits: {cpu: "1", memory: 512Mi}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65534
    runAsGroup: 65534
    fsGroup: 65534
    seccompProfile: {type: RuntimeDefault}
EOF
  local deadline=$((SECONDS + TIMEOUT))
  until [[ "$(kc get prometheus smoke -o jsonpath='{.status.availableReplicas}' 2>/dev/null)" == 1 ]]; do
    if ((SECONDS >= deadline)); then
      dump
      echo "monitoring-stack: Prometheus not available after ${TIMEOUT}s" >&2
      exit 1
    fi
    sleep 1
  done
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
