# shellcheck shell=bash
# Through the Prometheus HTTP API (ci/prometheus_check.py): the request series carry the app's
# own `endpoint` label; every dashboard query and rule expression evaluates; the rule groups
# are loaded.
prom_check series --namespace "$NAMESPACE" --job "$JOB" --endpoint '/items/{item_id}'
kc get prometheusrules -l "$SELECTOR" -o jsonpath='{.items[0]}' >"$WORK/prometheusrule.json"
prom_check queries --namespace "$NAMESPACE" --job "$JOB" \
  --dashboard "$CHART/dashboards/production-api.json" --rules "$WORK/prometheusrule.json"
