# shellcheck shell=bash
# ci/cluster/up.sh step: the network namespace: loopback, and the pod bridge whose address is the
# node's IP. Forwarding and bridge netfilter are sysctls of this namespace only. Sourced by up.sh.

cluster_log "network namespace $CLUSTER_NETNS"
ip netns add "$CLUSTER_NETNS"
in_netns ip link set lo up
# The bridge's MAC address is set once. A bridge whose address was never set takes the lowest
# address of its ports, so it changes when a pod whose veth had it goes away; the other pods'
# ARP entries for their gateway then name an address that nothing answers to, and what they
# send to the node (DNS) or through it (Services) is lost until the entry expires: the DNS
# timeouts (EAI_AGAIN) of some runs. Locally administered, from the cluster's name.
bridge_mac="02:$(printf '%s' "$CLUSTER_NAME" | sha256sum | cut -c1-10 | sed 's/../&:/g; s/:$//')"
in_netns ip link add "$CLUSTER_BRIDGE" address "$bridge_mac" type bridge
in_netns ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$CLUSTER_BRIDGE"
in_netns ip link set "$CLUSTER_BRIDGE" up
cluster_log "pod bridge $CLUSTER_BRIDGE, $NODE_IP, MAC $bridge_mac"
# Processes of the namespace (not only pods) reach ClusterIPs: kube-proxy rewrites the
# destination after this route picked the bridge.
in_netns ip route add "$SERVICE_CIDR" dev "$CLUSTER_BRIDGE"
in_netns sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
printf 'nameserver %s\nsearch %s\noptions ndots:5\n' "$NODE_IP" "$CLUSTER_DOMAIN" >"$S/config/resolv.conf"
