# shellcheck shell=bash
# ci/cluster/up.sh step: clear what an earlier run left, then record the host's state that the
# cluster changes (down.sh restores it). Sourced by up.sh.

"$REPO_ROOT/ci/cluster/down.sh" --quiet
# Never delete through a mount (a volume's source could be outside the state directory).
if findmnt -rn -o TARGET | grep -qF -- "$S/"; then
  cluster_die "mounts under $S are left after down.sh; not removing it: $(findmnt -rn -o TARGET | grep -F -- "$S/" | head -n 3)"
fi
rm -rf "$S"
mkdir -p "$S"/{pids,logs,pki,etcd,nodes,config,registry,traces,logstore}
chmod 0700 "$S"

for key in "${HOST_SYSCTLS[@]}"; do
  printf '%s=%s\n' "$key" "$(sysctl -n "$key")"
done >"$S/host-sysctls"
# inotify instances are counted per user, not per namespace: every kubelet and containerd
# takes some, and the host's default (128) runs out with a few nodes.
if (($(sysctl -n fs.inotify.max_user_instances) < INOTIFY_INSTANCES)); then
  sysctl -q -w fs.inotify.max_user_instances="$INOTIFY_INSTANCES"
fi
# Directories outside the state directory that containerd, CNI and `ip netns` create when
# missing; down.sh removes the ones that were not there before (when empty of other users).
for dir in /run/netns /run/containerd /var/lib/cni; do
  [[ -e "$dir" ]] || printf '%s\n' "$dir"
done >"$S/host-created-dirs"
mountpoint -q /run/netns 2>/dev/null || echo /run/netns >"$S/host-created-mounts"
touch "$S/host-created-mounts"
