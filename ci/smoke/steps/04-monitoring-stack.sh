# shellcheck shell=bash disable=SC2034  # sets what later steps use
# A Prometheus Operator and a Prometheus that select ServiceMonitors and PrometheusRules by the
# `release` label, as kube-prometheus-stack does (ci/monitoring-stack.sh), and a port-forward
# to that Prometheus for ci/prometheus_check.py (PROM_URL).
"$REPO_ROOT/ci/monitoring-stack.sh" up
port_forward "$MONITORING_NAMESPACE" service/prometheus-operated 9090 prometheus
PROM_PF_PID="$FORWARD_PID"
PROM_URL="http://127.0.0.1:$FORWARD_PORT"
