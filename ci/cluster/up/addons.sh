# shellcheck shell=bash
# ci/cluster/up.sh step: the cluster's add-ons, as processes on the control-plane node: CoreDNS,
# and metrics-server behind the API server's aggregation layer (the resource metrics API of
# `kubectl top` and the HorizontalPodAutoscaler), which reads every kubelet over TLS verified
# against the cluster CA. Then the controller-manager's default ServiceAccount and root CA.
# Sourced by up.sh.

cluster_log "CoreDNS"
cat >"$S/config/Corefile" <<EOF
$CLUSTER_DOMAIN:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $CONTROL_PLANE_IP
    errors
    health 127.0.0.1:8080
    ready 127.0.0.1:8181
    cache 30
    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
        kubeconfig $CLUSTER_KUBECONFIG
        pods insecure
    }
}
EOF
start coredns "$CLUSTER_NETNS" "$CLUSTER_BIN/coredns" -conf "$S/config/Corefile"
wait_for coredns "/ready" in_netns curl -fsS http://127.0.0.1:8181/ready

cluster_log "metrics-server $METRICS_SERVER_VERSION"
# Its RBAC, a Service without selector whose EndpointSlice names the process's address, and the
# APIService (its serving certificate verified against the cluster CA).
render "$REPO_ROOT/ci/cluster/up/metrics-server.yaml" ADDRESS="$CONTROL_PLANE_IP" \
  PORT=4443 CA_BUNDLE="$(base64 -w0 <"$PKI/ca.crt")" | cluster_kubectl apply -f - >/dev/null
start metrics-server "$CLUSTER_NETNS" "$TOOLS_BIN/metrics-server" \
  --bind-address "$CONTROL_PLANE_IP" --secure-port 4443 \
  --tls-cert-file "$PKI/metrics-server.crt" --tls-private-key-file "$PKI/metrics-server.key" \
  --kubeconfig "$S/metrics-server.kubeconfig" \
  --authentication-kubeconfig "$S/metrics-server.kubeconfig" \
  --authorization-kubeconfig "$S/metrics-server.kubeconfig" \
  --kubelet-certificate-authority "$PKI/ca.crt" \
  --kubelet-preferred-address-types InternalIP --kubelet-use-node-status-port \
  --metric-resolution 15s --profiling=false
wait_for metrics-server "APIService v1beta1.metrics.k8s.io Available" cluster_kubectl wait \
  --for=condition=Available apiservice/v1beta1.metrics.k8s.io --timeout=2s

# The control-plane node is labelled as kind labels it (the kubelet may not set node-role
# labels itself); it is not tainted: it runs pods like the workers.
node_select 0
cluster_kubectl label node "$NODE_NAME" node-role.kubernetes.io/control-plane= >/dev/null

wait_for kube-controller-manager "default ServiceAccount" cluster_kubectl get serviceaccount default -n default
wait_for kube-controller-manager "kube-root-ca.crt" cluster_kubectl get configmap kube-root-ca.crt -n default
