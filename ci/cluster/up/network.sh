# shellcheck shell=bash
# ci/cluster/up.sh step: the nodes' network namespaces, each with loopback and its pod bridge
# (whose address is the node's IP); with more than one node, the links that join them and the
# routes to each other's pods. Forwarding and bridge netfilter are sysctls of each namespace
# only. Sourced by up.sh; node_network is also node.sh's.

# node_network: the selected node's namespace and pod bridge.
node_network() {
  local netns="$NODE_NETNS" bridge_mac
  ip netns add "$netns"
  ip -n "$netns" link set lo up
  # The bridge's MAC address is set once. A bridge whose address was never set takes the
  # lowest address of its ports, so it changes when a pod whose veth had it goes away; the
  # other pods' ARP entries for their gateway then name an address that nothing answers to,
  # and what they send to the node (DNS) or through it (Services) is lost until the entry
  # expires: the DNS timeouts (EAI_AGAIN) of some runs. Locally administered, from the
  # cluster's and the node's names.
  bridge_mac="02:$(printf '%s' "$CLUSTER_NAME/$NODE_ID" | sha256sum | cut -c1-10 |
    sed 's/../&:/g; s/:$//')"
  ip -n "$netns" link add "$CLUSTER_BRIDGE" address "$bridge_mac" type bridge
  ip -n "$netns" addr add "$NODE_IP/${NODE_POD_CIDR#*/}" dev "$CLUSTER_BRIDGE"
  ip -n "$netns" link set "$CLUSTER_BRIDGE" up
  cluster_log "$NODE_NAME: pod bridge $CLUSTER_BRIDGE, $NODE_IP, MAC $bridge_mac"
  # Processes of the namespace (not only pods) reach ClusterIPs: kube-proxy rewrites the
  # destination after this route picked the bridge.
  ip -n "$netns" route add "$SERVICE_CIDR" dev "$CLUSTER_BRIDGE"
  nsenter --net="$NODE_NETNS_PATH" -- \
    sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
}

# node_link: a veth from the selected node to the links' bridge, and routes to the other
# nodes' pod ranges through their link addresses.
node_link() {
  local netns="$NODE_NETNS" own="$NODE_INDEX" n
  ip -n "$LINKS_NETNS" link add "pa-$NODE_ID" type veth peer name pa-link netns "$netns"
  ip -n "$LINKS_NETNS" link set "pa-$NODE_ID" master pa-nodes up
  ip -n "$netns" addr add "$NODE_LINK_IP/${LINKS_CIDR#*/}" dev pa-link
  ip -n "$netns" link set pa-link up
  for ((n = 0; n < CLUSTER_NODES; n++)); do
    ((n != own)) || continue
    node_select "$n"
    ip -n "$netns" route add "$NODE_POD_CIDR" via "$NODE_LINK_IP"
  done
  node_select "$own"
}

cluster_log "network: $CLUSTER_NODES node(s)"
if ((CLUSTER_NODES > 1)); then
  ip netns add "$LINKS_NETNS"
  ip -n "$LINKS_NETNS" link set lo up
  ip -n "$LINKS_NETNS" link add pa-nodes type bridge
  ip -n "$LINKS_NETNS" link set pa-nodes up
fi
for ((n = 0; n < CLUSTER_NODES; n++)); do
  node_select "$n"
  node_network
  ((CLUSTER_NODES == 1)) || node_link
done
printf 'nameserver %s\nsearch %s\noptions ndots:5\n' "$CONTROL_PLANE_IP" "$CLUSTER_DOMAIN" \
  >"$S/config/resolv.conf"
