# shellcheck shell=bash disable=SC2034  # SERVICE_URL: the load client's
# The move users make from Helm 3 to Helm 4, on a live release: installed and upgraded by
# Helm 3 (client-side apply), then upgraded by Helm 4 with its default `--server-side=auto`
# (an existing release keeps the apply method it was installed with) while a client sends
# requests, and rolled back by Helm 4. No request fails, no field manager conflict, and
# `helm history` shows the four revisions, as both Helms read them. Then uninstalled by Helm 4.
if [[ -z "$SMOKE_HELM3" || "$HELM_MAJOR" != 4 ]]; then
  log "skipped: needs Helm 4 as helm and a Helm 3 binary in SMOKE_HELM3"
  return 0
fi
h3() { "$SMOKE_HELM3" --namespace "$NAMESPACE" "$@"; }
h3_version="$("$SMOKE_HELM3" version --template '{{.Version}}')"
[[ "$h3_version" == v3.* ]] || fail "SMOKE_HELM3 is helm $h3_version, not Helm 3"

h3 install "$RELEASE" "${CHART_ARGS[@]}" --values "$CHART/values-dev.yaml" "${IMAGE_ARGS[@]}" \
  --wait --timeout "$HELM_TIMEOUT" >/dev/null
h3 upgrade "$RELEASE" "${CHART_ARGS[@]}" --values "$CHART/values-staging.yaml" "${IMAGE_ARGS[@]}" \
  --wait --timeout "$HELM_TIMEOUT" >/dev/null
until_true "$WAIT_SECONDS" "the Helm 3 upgrade to settle" settled
[[ "$(app_env)" == staging ]] || fail "after Helm 3's upgrade APP_ENV is '$(app_env)', want staging"
log "helm $h3_version: installed (dev) and upgraded (staging)"
# A new release: a new ClusterIP for the load client.
SERVICE_URL="http://$(kc get "$SERVICE" -o jsonpath='{.spec.clusterIP}'):$SERVICE_PORT/items/1"

start_client migrate-client
hm upgrade "$RELEASE" "${CHART_ARGS[@]}" --values "$CHART/values-prod.yaml" "${IMAGE_ARGS[@]}" \
  --wait --timeout "$HELM_TIMEOUT" 2>"$WORK/helm4-upgrade.err" >/dev/null ||
  { cat "$WORK/helm4-upgrade.err" >&2; fail "Helm 4's upgrade of the Helm 3 release failed"; }
if grep -i 'conflict' "$WORK/helm4-upgrade.err" >&2; then
  fail "Helm 4's upgrade reported a field manager conflict"
fi
[[ "$(app_env)" == production ]] || fail "after Helm 4's upgrade APP_ENV is '$(app_env)', want production"
until_true "$WAIT_SECONDS" "Helm 4's upgrade to settle" settled
hm rollback "$RELEASE" --wait --timeout "$HELM_TIMEOUT" >/dev/null
[[ "$(app_env)" == staging ]] || fail "after Helm 4's rollback APP_ENV is '$(app_env)', want staging"
until_true "$WAIT_SECONDS" "Helm 4's rollback to settle" settled
sleep 3
stop_client migrate-client "during Helm 4's upgrade and rollback of a Helm 3 release"

# The release's history, as Helm 4 and Helm 3 read it: four revisions, the last deployed.
revisions() {
  python3 -c 'import json, sys; print(" ".join("%s:%s" % (r["revision"], r["status"]) for r in json.load(sys.stdin)))'
}
history4="$(hm history "$RELEASE" -o json | revisions)"
history3="$(h3 history "$RELEASE" -o json | revisions)"
want="1:superseded 2:superseded 3:superseded 4:deployed"
[[ "$history4" == "$want" ]] || fail "helm history (Helm 4): $history4, want $want"
[[ "$history3" == "$want" ]] || fail "helm history (Helm 3): $history3, want $want"
managers="$(kc get "$DEPLOYMENT" -o jsonpath='{range .metadata.managedFields[*]}{.manager}/{.operation}{"\n"}{end}' | sort -u | paste -sd, -)"
log "helm $HELM_VERSION_SEEN: upgraded the Helm 3 release (prod) and rolled it back (staging) under load; history $history4 in both; field managers $managers"

hm uninstall "$RELEASE" --wait --timeout "$HELM_TIMEOUT" >/dev/null
no_pods() { [[ -z "$(kc get pods -l "$APP_SELECTOR" -o name)" ]]; }
until_true "$WAIT_SECONDS" "the release's pods to be gone" no_pods
