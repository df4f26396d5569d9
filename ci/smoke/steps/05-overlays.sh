# shellcheck shell=bash
# Every overlay (dev, staging, prod, ci/all-on-values.yaml) rendered with the cluster's
# capabilities and checked by the API server: `kubectl apply --dry-run=server
# --validate=strict`, no warning allowed.
for values in values-dev.yaml values-staging.yaml values-prod.yaml ci/all-on-values.yaml; do
  extra=()
  # The all-on example also turns on the PrometheusRule and the dashboard ConfigMap.
  [[ "$values" == ci/* ]] && extra=(--set prometheusRule.enabled=true --set grafanaDashboard.enabled=true)
  # Rendered with the cluster's real capabilities (API versions, version), as `helm install`
  # renders: Helm 4's `--dry-run=server`, Helm 3's `--validate` (deprecated in Helm 4; in Helm 3
  # `--dry-run=server` alone keeps the client-only defaults).
  if [[ "$HELM_MAJOR" == 4 ]]; then capabilities=(--dry-run=server); else capabilities=(--validate); fi
  helm template "$RELEASE" "$CHART" --namespace "$NAMESPACE" --values "$CHART/$values" \
    "${extra[@]}" "${capabilities[@]}" >"$WORK/rendered.yaml" 2>"$WORK/template.err" ||
    { cat "$WORK/template.err" >&2; fail "$values: helm template failed"; }
  if grep -i 'deprecated\|warning' "$WORK/template.err" >&2; then
    fail "$values: helm template warned"
  fi
  kinds="$(sed -n 's/^kind: //p' "$WORK/rendered.yaml" | sort | uniq -c | awk '{printf "%s%s", sep, $2; sep=","}')"
  case "$values" in
    values-staging.yaml | values-prod.yaml) want=ServiceMonitor ;;
    ci/*) want="PrometheusRule HTTPRoute NetworkPolicy" ;;
    *) want=Deployment ;;
  esac
  for kind in $want; do
    [[ ",$kinds," == *",$kind,"* ]] || fail "$values: no $kind rendered (got $kinds)"
  done
  if ! kc apply --dry-run=server --validate=strict -f "$WORK/rendered.yaml" \
    >"$WORK/dry-run.out" 2>&1; then
    cat "$WORK/dry-run.out" >&2
    fail "$values: the API server refused the rendered manifests"
  fi
  if grep -i 'warning' "$WORK/dry-run.out" >&2; then
    fail "$values: the API server warned about the rendered manifests"
  fi
  log "$values: accepted: $kinds"
done
