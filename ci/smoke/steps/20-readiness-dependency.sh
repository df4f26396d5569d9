# shellcheck shell=bash
# Real readiness probes: the release's readiness checks a dependency of the smoke test's own
# (manifests/dependency-*.yaml); when its pod goes, the kubelet takes every pod out of the
# Service's endpoints, and when it returns they rejoin.

# dep_pod: the dependency's pod, Ready.
dep_pod() {
  manifest dependency-pod NAME="$DEP" RELEASE="$RELEASE" IMAGE="$IMAGE_REF" \
    IMAGE_PULL_POLICY="$IMAGE_PULL_POLICY" NODE_SELECTOR="$NODE_SELECTOR" | kc apply -f - >/dev/null
  kc wait --for=condition=Ready "pod/$DEP" --timeout="${WAIT_SECONDS}s" >/dev/null
}
none_ready() { [[ "$(ready_endpoints)" == 0 ]]; }
all_ready() { [[ "$(ready_endpoints)" == "$replicas" ]]; }

manifest dependency-service NAME="$DEP" RELEASE="$RELEASE" | kc apply -f - >/dev/null
dep_pod
hm upgrade "$RELEASE" "${CHART_ARGS[@]}" --reuse-values \
  --set "config.readiness.dependencies[0]=http://$DEP:8080/health" \
  --set probes.readiness.periodSeconds=1 --set probes.readiness.failureThreshold=1 \
  --wait --timeout "$HELM_TIMEOUT"
until_true "$WAIT_SECONDS" "the rollout with the dependency" settled

replicas="$(kc get "$DEPLOYMENT" -o jsonpath='{.spec.replicas}')"
[[ "$(ready_endpoints)" == "$replicas" ]] ||
  fail "with the dependency up, $(ready_endpoints) of $replicas endpoints are ready"

kc delete pod "$DEP" --wait=true >/dev/null
log "dependency down"
until_true "$WAIT_SECONDS" "every pod to leave the endpoints" none_ready
not_ready_pods="$(kc get pods -l "$APP_SELECTOR" \
  -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '^False$' || true)"
[[ "$not_ready_pods" == "$replicas" ]] || fail "$not_ready_pods of $replicas pods are NotReady"
log "dependency down: $not_ready_pods pods NotReady, 0 ready endpoints"

dep_pod
log "dependency back"
until_true "$WAIT_SECONDS" "every pod to rejoin the endpoints" all_ready
log "dependency back: $replicas ready endpoints"
kc delete pods,services,configmaps -l "$HELPER_SELECTOR" --wait=true >/dev/null
