#!/usr/bin/env bash
# Smoke test of the chart and the image on whatever cluster the current kube context points at
# (the project's own test cluster in `make test`, kind in `make kind-smoke`): installs,
# tests, upgrades under load, rolls back and uninstalls the release with real pods, probes
# and rollouts. This file is the list of its steps, in order; each is a file in
# ci/smoke/steps/ (what it proves is in its first lines), with the manifests and Python
# helpers beside them in ci/smoke/.
#
# With SMOKE_MONITORING=1 (the default) it also runs a Prometheus Operator and a Prometheus
# (ci/monitoring-stack.sh) and checks through the Prometheus HTTP API (ci/prometheus_check.py)
# that they scrape the release after each install and upgrade, evaluate every dashboard query
# and rule, and fire an alert for a real cause. With CHART_REF and IMAGE_DIGEST it installs
# released charts the way users do (oci://, pinned by digest), with PREVIOUS_CHART_VERSION the
# previous release first; with SMOKE_TRACING_ENDPOINT a traced request must reach a collector;
# with SMOKE_LOGS_URL the pods' lines must reach a log store (VictoriaLogs), whole and found by
# trace id and request id (steps 27-29: numbered after the others, run where their data is).
# With SMOKE_TRAEFIK_IMAGE the release is also served over HTTPS by Traefik, through its
# Ingress and its Gateway API HTTPRoute, and upgraded under load through that edge (steps 24
# to 26, run after the HPA's step: their numbers are newer than their place; step 20 leaves
# the release without its readiness dependency, so they come before it).
#
# On failure: events, `describe` and logs of everything labelled app.kubernetes.io/instance,
# then, as the last lines, the step that failed, its error and what it printed last.
# The release and (by default) its namespace are removed on exit; KEEP=1 installs it again.
# Environment: ci/smoke/settings.sh lists it, with the defaults.
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=ci/smoke/settings.sh
source "$REPO_ROOT/ci/smoke/settings.sh"
# shellcheck source=ci/smoke/lib.sh
source "$REPO_ROOT/ci/smoke/lib.sh"

steps_begin smoke
trap smoke_cleanup EXIT
trap 'exit 130' INT TERM
smoke_preflight

run_step "cluster: context $(kubectl config current-context), nodes" 01-cluster
run_step "namespace $NAMESPACE, Pod Security restricted" 02-namespace
run_step "CRDs" 03-crds
if [[ "$SMOKE_MONITORING" == 1 ]]; then
  run_step "Prometheus Operator and Prometheus in namespace $MONITORING_NAMESPACE" 04-monitoring-stack
fi
run_step "server-side validation of every overlay" 05-overlays
run_step "helm install (dev overlay)${PREVIOUS_CHART_VERSION:+, release $PREVIOUS_CHART_VERSION}" 06-install
run_step "helm test" 07-helm-test
run_step "endpoints through kubectl port-forward ($SERVICE)" 08-endpoints
run_step "helm upgrade to staging, then prod, under load" 09-upgrade-under-load
if [[ -n "$SMOKE_TRACING_ENDPOINT" ]]; then
  run_step "a traced request through the Service reaches the collector" 10-tracing
fi
run_step "logs: the traced request's access line found by its trace id, and by its request id" 27-logs-by-trace-id
run_step "logs: a line split by the runtime (over 16 KiB) and a traceback, each one record" 28-logs-long-line-traceback
if [[ "$SMOKE_MONITORING" == 1 ]]; then
  run_step "Prometheus: series, dashboard and rule queries, rules loaded" 11-prometheus-queries
fi
run_step "a pod deleted under load" 12-pod-deleted-under-load
run_step "logs: every access line of the load while the pod was deleted is stored" 29-logs-deleted-pod
if [[ "$SMOKE_MONITORING" == 1 ]]; then
  run_step "an alert fires for a real cause and resolves: the Deployment scaled to 0 and back" 13-alert
fi
run_step "helm rollback to the previous revision" 14-rollback
run_step "helm upgrade to prod again: pods spread over nodes" 15-prod-spread
run_step "kubectl drain of a node under load, the PodDisruptionBudget held" 16-drain-under-load
run_step "kubectl rollout restart under load" 17-rollout-restart-under-load
run_step "a node lost under load" 18-node-lost
run_step "the HPA scales out on CPU and back" 19-hpa-scales
run_step "TLS edge: Traefik, certificates, the Gateway" 24-edge-controller
run_step "TLS edge: the Ingress and the HTTPRoute over HTTPS" 25-edge-https
run_step "TLS edge: an upgrade under load through HTTPS" 26-edge-upgrade-under-load
run_step "readiness follows a dependency (real kubelet probes)" 20-readiness-dependency
run_step "helm uninstall leaves nothing behind" 21-uninstall
run_step "Helm 3 to Helm 4: a live release upgraded and rolled back by Helm 4 under load" 22-helm3-to-helm4
if [[ "$KEEP" == 1 ]]; then
  run_step "the release installed again to be kept (prod overlay)" 23-keep
fi

step "done"
log "smoke test passed"
