# shellcheck shell=bash disable=SC2034  # sets what later steps use
# The TLS edge: a CA and a leaf certificate for the two test hosts, made here with openssl
# (EDGE_CA is the CA file the clients trust), the leaf as a kubernetes.io/tls Secret in the
# release's namespace (for its Ingress) and in the controller's (for the Gateway); Traefik
# (SMOKE_TRAEFIK_IMAGE) as the ingress and Gateway API controller on HELPER_NODE, restricted,
# with the RBAC its documentation prescribes (manifests/edge.yaml); its GatewayClass Accepted
# and the Gateway, an HTTP and an HTTPS listener (TLS terminated with the Secret), Programmed.
if edge_skipped; then return 0; fi

edge_dir="$WORK/edge"
mkdir -p "$edge_dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=$RELEASE smoke test CA" -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign -keyout "$edge_dir/ca.key" -out "$edge_dir/ca.crt" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$INGRESS_HOST" \
  -keyout "$edge_dir/tls.key" -out "$edge_dir/tls.csr" 2>/dev/null
cat >"$edge_dir/leaf.ext" <<EXT
subjectAltName=DNS:$INGRESS_HOST,DNS:$GATEWAY_HOST
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
openssl x509 -req -in "$edge_dir/tls.csr" -CA "$edge_dir/ca.crt" -CAkey "$edge_dir/ca.key" \
  -set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile "$edge_dir/leaf.ext" \
  -out "$edge_dir/tls.crt" 2>/dev/null
openssl verify -CAfile "$edge_dir/ca.crt" "$edge_dir/tls.crt" >/dev/null ||
  fail "the test leaf does not verify against the test CA"
EDGE_CA="$edge_dir/ca.crt"
EDGE_LEAF_FINGERPRINT="$(openssl x509 -in "$edge_dir/tls.crt" -noout -fingerprint -sha256)"
log "certificates: CA and leaf for $INGRESS_HOST, $GATEWAY_HOST (${EDGE_LEAF_FINGERPRINT#*=})"

edge_manifest | kubectl apply -f - >/dev/null
for ns in "$NAMESPACE" "$EDGE_NAMESPACE"; do
  kubectl --namespace "$ns" create secret tls "$EDGE_TLS_SECRET" --dry-run=client -o yaml \
    --cert="$edge_dir/tls.crt" --key="$edge_dir/tls.key" |
    kubectl label --local -f - -o yaml "$HELPER_SELECTOR" | kubectl --namespace "$ns" apply -f - >/dev/null
done
kubectl --namespace "$EDGE_NAMESPACE" rollout status deployment/traefik --timeout "$ROLLOUT_TIMEOUT" >&2
EDGE_IP="$(kubectl --namespace "$EDGE_NAMESPACE" get service traefik -o jsonpath='{.spec.clusterIP}')"

# condition KIND/NAME TYPE: the status of the object's condition TYPE (in EDGE_NAMESPACE).
condition() {
  kubectl --namespace "$EDGE_NAMESPACE" get "$1" \
    -o jsonpath="{.status.conditions[?(@.type==\"$2\")].status}" 2>/dev/null
}
class_accepted() { [[ "$(condition gatewayclass/traefik Accepted)" == True ]]; }
gateway_programmed() { [[ "$(condition gateway/edge Programmed)" == True ]]; }
until_true "$WAIT_SECONDS" "GatewayClass traefik to be Accepted" class_accepted
until_true "$WAIT_SECONDS" "Gateway edge to be Programmed" gateway_programmed
version="$(kubectl --namespace "$EDGE_NAMESPACE" logs deployment/traefik |
  sed -n 's/.*Traefik version \([^ ]*\) built.*/\1/p' | head -n1)"
log "edge: Traefik ${version:-?} on $HELPER_NODE at $EDGE_IP (namespace $EDGE_NAMESPACE, restricted); GatewayClass traefik Accepted, Gateway edge Programmed"
