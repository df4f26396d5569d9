# shellcheck shell=bash
# An alert for a real cause: ProductionApiTargetMissing fires when the Deployment is scaled
# to 0 and resolves when it is back.
replicas="$(kc get "$DEPLOYMENT" -o jsonpath='{.spec.replicas}')"
prom_check alert --name ProductionApiTargetMissing --state inactive
kc scale "$DEPLOYMENT" --replicas 0 >/dev/null
prom_check alert --name ProductionApiTargetMissing --state firing
kc scale "$DEPLOYMENT" --replicas "$replicas" >/dev/null
kc rollout status "$DEPLOYMENT" --timeout "$ROLLOUT_TIMEOUT"
prom_check alert --name ProductionApiTargetMissing --state inactive
prom_targets
