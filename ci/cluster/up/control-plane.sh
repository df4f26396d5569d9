# shellcheck shell=bash
# ci/cluster/up.sh step: etcd, kube-apiserver (with the aggregation layer: requests for
# metrics.k8s.io go to metrics-server, routed to its endpoint's address, as it runs outside
# pods), kube-controller-manager, kube-scheduler, on the control-plane node. Sourced by up.sh.

cluster_log "etcd"
start etcd "$CLUSTER_NETNS" etcd --name "$CLUSTER_NAME" --data-dir "$S/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster "$CLUSTER_NAME=http://127.0.0.1:2380" --listen-metrics-urls "" \
  --logger zap --log-level warn
wait_for etcd "healthy endpoint" in_netns curl -fsS http://127.0.0.1:2379/health

cluster_log "kube-apiserver"
start kube-apiserver "$CLUSTER_NETNS" "$CLUSTER_BIN/kube-apiserver" \
  --etcd-servers http://127.0.0.1:2379 \
  --advertise-address "$CONTROL_PLANE_IP" --secure-port 6443 --cert-dir "$S/apiserver-certs" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --client-ca-file "$PKI/ca.crt" \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
  --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --allow-privileged=false --profiling=false \
  --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" \
  --requestheader-allowed-names front-proxy-client \
  --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
  --requestheader-extra-headers-prefix X-Remote-Extra- \
  --proxy-client-cert-file "$PKI/front-proxy-client.crt" \
  --proxy-client-key-file "$PKI/front-proxy-client.key" \
  --enable-aggregator-routing=true
wait_for kube-apiserver "/readyz" cluster_kubectl get --raw /readyz

cluster_log "kube-controller-manager, kube-scheduler"
start kube-controller-manager "$CLUSTER_NETNS" "$CLUSTER_BIN/kube-controller-manager" \
  --kubeconfig "$S/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$S/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$S/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --cert-dir "$S/controller-manager-certs" --leader-elect=false \
  --use-service-account-credentials --service-account-private-key-file "$PKI/sa.key" \
  --root-ca-file "$PKI/ca.crt" --service-cluster-ip-range "$SERVICE_CIDR" \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --profiling=false
start kube-scheduler "$CLUSTER_NETNS" "$CLUSTER_BIN/kube-scheduler" \
  --kubeconfig "$S/scheduler.kubeconfig" \
  --authentication-kubeconfig "$S/scheduler.kubeconfig" \
  --authorization-kubeconfig "$S/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --cert-dir "$S/scheduler-certs" --leader-elect=false \
  --profiling=false
wait_for kube-controller-manager "/healthz" in_netns curl -fsSk https://127.0.0.1:10257/healthz
wait_for kube-scheduler "/healthz" in_netns curl -fsSk https://127.0.0.1:10259/healthz
