# shellcheck shell=bash
# ci/cluster/up.sh step: kube-proxy (iptables) and CoreDNS, then the controller-manager's
# default ServiceAccount and root CA. Sourced by up.sh.

cluster_log "kube-proxy, CoreDNS"
cat >"$S/config/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $S/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the conntrack table size and timeouts alone: they are host-wide settings.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
start kube-proxy "$CLUSTER_BIN/kube-proxy" --config "$S/config/kube-proxy.yaml"

cat >"$S/config/Corefile" <<EOF
$CLUSTER_DOMAIN:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $NODE_IP
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
start coredns "$CLUSTER_BIN/coredns" -conf "$S/config/Corefile"
wait_for kube-proxy "/healthz" in_netns curl -fsS http://127.0.0.1:10256/healthz
wait_for coredns "/ready" in_netns curl -fsS http://127.0.0.1:8181/ready
wait_for kube-controller-manager "default ServiceAccount" cluster_kubectl get serviceaccount default -n default
wait_for kube-controller-manager "kube-root-ca.crt" cluster_kubectl get configmap kube-root-ca.crt -n default
