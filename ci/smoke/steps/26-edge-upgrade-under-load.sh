# shellcheck shell=bash
# An upgrade under load through the TLS edge: a client pod sends HTTPS requests in turn to the
# Ingress host and the Gateway host (the test CA trusted, both hosts resolved to the
# controller's Service) while `helm upgrade` changes the prod release's log level, which
# replaces every pod (the HPA keeps the count: a move to staging's fixed replicas would take
# .spec.replicas from the HPA's field manager, a conflict Helm 4's server-side apply refuses).
# Traefik sends requests to the pods' endpoints directly, not through the Service: the preStop
# sleep and the drain must cover its view of the endpoints too. None may fail.
if edge_skipped; then return 0; fi

CLIENT_URLS="https://$INGRESS_HOST/items/1 https://$GATEWAY_HOST/items/1" start_client edge-client
old_pods="$(kc get pods -l "$APP_SELECTOR" --field-selector=status.phase=Running -o name | paste -sd' ' -)"
hm upgrade "$RELEASE" "${CHART_ARGS[@]}" --reuse-values --set config.logLevel=debug \
  --wait --timeout "$HELM_TIMEOUT" >/dev/null
until_true "$WAIT_SECONDS" "the old pods to finish terminating" settled
sleep 3
stop_client edge-client "through the HTTPS edge (Ingress and Gateway) during an upgrade replacing every pod"
for pod in $old_pods; do
  ! kc get "$pod" >/dev/null 2>&1 || fail "$pod of the prod release was not replaced"
done
log "edge: every pod replaced ($(wc -w <<<"$old_pods") before, $(release_nodes | grep -c .) after) behind the edge"
