# shellcheck shell=bash
# The release behind the TLS edge: `helm upgrade` with its Ingress (className traefik, `tls:`
# the test leaf's Secret, Traefik's HTTPS entry point only) and its HTTPRoute on the Gateway's
# HTTPS listener, with the chart's redirect route on the HTTP listener (values-edge.yaml). The
# routes are Accepted and ResolvedRefs. Over HTTPS to the controller's Service (curl --cacert
# <test CA> --resolve <host>:443:<its ClusterIP>), on the Ingress host and on the Gateway host:
# /, /health and /items/42 answer 200 with the app's bodies, and the certificate served is
# the test leaf. Plain HTTP: the Gateway host gets the chart's 301 to https, the Ingress host
# (no redirect in the Ingress API; HTTPS only here) the controller's 404. An unknown host, and
# a path the routes do not name (/metrics stays inside the cluster), get the controller's 404
# ("404 page not found"), not the app's JSON one.
if edge_skipped; then return 0; fi

render "$SMOKE_DIR/values-edge.yaml" INGRESS_HOST="$INGRESS_HOST" GATEWAY_HOST="$GATEWAY_HOST" \
  TLS_SECRET="$EDGE_TLS_SECRET" EDGE_NAMESPACE="$EDGE_NAMESPACE" >"$WORK/values-edge.yaml"
hm upgrade "$RELEASE" "${CHART_ARGS[@]}" --reuse-values --values "$WORK/values-edge.yaml" \
  --wait --timeout "$HELM_TIMEOUT" >/dev/null
route="$(kc get httproutes -l "$SELECTOR" -o name | grep -v -- '-https-redirect$')"
[[ -n "$route" ]] || fail "the release has no HTTPRoute"

# route_condition ROUTE TYPE: the status of the route's condition TYPE for the Gateway.
route_condition() {
  kc get "$1" -o jsonpath="{.status.parents[?(@.parentRef.name==\"edge\")].conditions[?(@.type==\"$2\")].status}"
}
routes_attached() {
  local r
  for r in "$route" "$route-https-redirect"; do
    [[ "$(route_condition "$r" Accepted)" == True && "$(route_condition "$r" ResolvedRefs)" == True ]] || return 1
  done
}
until_true "$WAIT_SECONDS" "the HTTPRoutes to be Accepted with ResolvedRefs" routes_attached
log "gateway: ${route#*/} and ${route#*/}-https-redirect Accepted, ResolvedRefs"

# answers URL STATUS NEEDLE [CURL_ARGS...]: one GET of URL through the edge answers STATUS with
# NEEDLE (if any) in its body; sets `status`.
answers() {
  status="$(edge_get "$1" "${@:4}")" && [[ "$status" == "$2" ]] &&
    { [[ -z "$3" ]] || grep -q -- "$3" "$WORK/body"; }
}
# expect URL STATUS NEEDLE [CURL_ARGS...]: answers, retried for a while: a new route waits for
# the controller's next configuration (it applies them at most every 2 s).
expect() {
  status=""
  wait_until 20 answers "$@" ||
    fail "GET $1: status ${status:-none}, want $2 with '$3': $(head -c 300 "$WORK/body" 2>/dev/null)"
  log "GET $1 -> $status"
}
# served_fingerprint HOST: the SHA-256 fingerprint of the certificate the edge serves for HOST.
served_fingerprint() {
  openssl s_client -connect "$EDGE_IP:443" -servername "$1" </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256
}

started=$SECONDS
for host in "$INGRESS_HOST" "$GATEWAY_HOST"; do
  expect "https://$host/" 200 '"env":"production"'
  expect "https://$host/health" 200 '"status":"ok"'
  expect "https://$host/items/42" 200 '"item_id":42'
  [[ "$(served_fingerprint "$host")" == "$EDGE_LEAF_FINGERPRINT" ]] ||
    fail "the edge serves another certificate than the test leaf for $host"
  log "$host: the test leaf served (verified against the test CA)"
  # A path the routes do not name: the controller's 404, the app never sees it.
  expect "https://$host/metrics" 404 '^404 page not found$'
done
log "edge: 6 HTTPS requests answered 200 by the app through the Ingress and the Gateway, $((SECONDS - started))s to the first answers"

expect "http://$GATEWAY_HOST/items/42" 301 '' --dump-header "$WORK/headers"
location="$(tr -d '\r' <"$WORK/headers" | sed -n 's/^[Ll]ocation: //p')"
[[ "$location" == "https://$GATEWAY_HOST/items/42" ]] ||
  fail "the redirect of http://$GATEWAY_HOST/items/42 points at '$location'"
log "plain HTTP: $GATEWAY_HOST -> 301 $location (the chart's redirect route)"
expect "http://$INGRESS_HOST/items/42" 404 '^404 page not found$'
log "plain HTTP: $INGRESS_HOST -> the controller's 404 (its Ingress is on the HTTPS entry point only)"
# An unknown host: no route, and no certificate of its own (Traefik's default one is served).
expect "https://unknown.$RELEASE.test/items/42" 404 '^404 page not found$' --insecure
log "unknown host and unrouted path: the controller's 404, not the app's"
