# shellcheck shell=bash
# The CRDs the chart's optional objects need (Prometheus Operator, Gateway API), pinned,
# unless the cluster has them.

# install_crds CRD SOURCE: applies SOURCE (file, directory or URL) unless the cluster has CRD.
install_crds() {
  local crd="$1" source="$2"
  if kubectl get crd "$crd" >/dev/null 2>&1; then
    log "$crd present; leaving the cluster's CRDs alone"
    return
  fi
  log "installing CRDs from $source"
  kubectl apply --server-side -f "$source" >/dev/null
  # Not `kubectl wait --for=condition=Established`: a CRD just created may have no status
  # yet, and kubectl wait then fails at once.
  until_true "$WAIT_SECONDS" "CRD $crd to be established" crd_established "$crd"
}
crd_established() {
  [[ "$(kubectl get crd "$1" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' 2>/dev/null)" == True ]]
}

install_crds servicemonitors.monitoring.coreos.com "$PROM_CRDS"
install_crds prometheusrules.monitoring.coreos.com "$PROM_CRDS"
install_crds httproutes.gateway.networking.k8s.io "$GATEWAY_CRDS"
