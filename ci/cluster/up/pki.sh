# shellcheck shell=bash
# ci/cluster/up.sh step: certificates (ECDSA P-256, valid two days) and kubeconfigs, new for
# every run. Sourced by up.sh.

cluster_log "certificates"
# new_ca NAME: a CA of its own, pki/NAME.{key,crt}.
new_ca() {
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$PKI/$1.key" -out "$PKI/$1.crt" -days 2 -subj "/CN=$CLUSTER_NAME-$1" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
}
new_ca ca
# The aggregation layer's CA: the API server proxies to metrics-server with a client
# certificate of this CA, which metrics-server trusts for the user named in its headers. Not
# the cluster CA: every client certificate of that one would be trusted the same way.
new_ca front-proxy-ca

# issue NAME SUBJECT USAGE [SANS] [CA]: a key and a certificate signed by CA [ca].
issue() {
  local name="$1" subject="$2" usage="$3" sans="${4:-}" ca="${5:-ca}"
  {
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n'
    printf 'extendedKeyUsage=%s\n' "$usage"
    [[ -n "$sans" ]] && printf 'subjectAltName=%s\n' "$sans"
  } >"$PKI/$name.ext"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$PKI/$name.key" -out "$PKI/$name.csr" -subj "$subject" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" \
    -CAcreateserial -days 2 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

api_sans="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
api_sans+=",DNS:kubernetes.default.svc.$CLUSTER_DOMAIN,DNS:localhost"
api_sans+=",IP:$CONTROL_PLANE_IP,IP:$API_SERVICE_IP,IP:127.0.0.1"
issue apiserver "/CN=kube-apiserver" serverAuth "$api_sans"
issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
issue admin "/O=system:masters/CN=$CLUSTER_NAME-admin" clientAuth
issue controller-manager "/CN=system:kube-controller-manager" clientAuth
issue scheduler "/CN=system:kube-scheduler" clientAuth
issue kube-proxy "/CN=system:kube-proxy" clientAuth
issue metrics-server "/CN=system:metrics-server" serverAuth,clientAuth \
  "DNS:metrics-server.kube-system.svc,IP:$CONTROL_PLANE_IP"
issue front-proxy-client "/CN=front-proxy-client" clientAuth "" front-proxy-ca
# Each node's kubelet: a client certificate of its own (the Node authorizer and NodeRestriction
# let a kubelet change only its own node and pods) and a serving certificate for its node IP,
# which the API server and metrics-server verify.
for ((n = 0; n < CLUSTER_NODES; n++)); do
  node_select "$n"
  issue "kubelet-client-$NODE_ID" "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
  issue "kubelet-server-$NODE_ID" "/CN=$NODE_NAME" serverAuth "DNS:$NODE_NAME,IP:$NODE_IP"
done
openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/sa.key" 2>/dev/null
openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
chmod 0600 "$PKI"/*.key

# kubeconfig NAME: $S/NAME.kubeconfig with the client certificate pki/NAME.
kubeconfig() {
  cat >"$S/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: $CLUSTER_NAME
    cluster:
      server: https://$CONTROL_PLANE_IP:6443
      certificate-authority: $PKI/ca.crt
users:
  - name: $1
    user:
      client-certificate: $PKI/$1.crt
      client-key: $PKI/$1.key
contexts:
  - name: $CLUSTER_NAME
    context: {cluster: $CLUSTER_NAME, user: $1}
current-context: $CLUSTER_NAME
EOF
  chmod 0600 "$S/$1.kubeconfig"
}
for name in admin controller-manager scheduler kube-proxy metrics-server; do
  kubeconfig "$name"
done
for ((n = 0; n < CLUSTER_NODES; n++)); do
  kubeconfig "kubelet-client-n$n"
done
