#!/usr/bin/env bash
# Loads images from podman's store into every node's containerd (the nodes' image stores), as
# `kind load` does for kind: podman save, then ctr import on each node. The names stay as podman
# has them (an image built as production-api:dev is localhost/production-api:dev).
#
#   ci/cluster/load-image.sh IMAGE...
set -euo pipefail

# shellcheck source=ci/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

(($#)) || cluster_die "usage: ci/cluster/load-image.sh IMAGE..."
nodes=()
for dir in "$CLUSTER_STATE"/nodes/n[0-9]; do
  [[ -d "$dir" ]] && nodes+=("${dir##*/n}")
done
((${#nodes[@]})) || cluster_die "the cluster has no nodes (ci/cluster/up.sh)"
for n in "${nodes[@]}"; do
  node_ctr "$n" version >/dev/null 2>&1 || cluster_die "node n$n's containerd is not running"
done

archive="$(mktemp "$CLUSTER_STATE/image.XXXXXX.tar")"
trap 'rm -f "$archive"' EXIT
start=$SECONDS
"$REPO_ROOT/ci/podman.sh" save --quiet --multi-image-archive --format docker-archive \
  --output "$archive.tmp" "$@" || cluster_die "podman cannot save $*"
mv -f "$archive.tmp" "$archive"
# Every node's containerd imports the archive at the same time.
imports=()
for n in "${nodes[@]}"; do
  node_ctr "$n" images import "$archive" >/dev/null &
  imports+=("$!")
done
for i in "${!imports[@]}"; do
  wait "${imports[$i]}" || cluster_die "node n${nodes[$i]}'s containerd could not import $*"
done
cluster_log "loaded $* into ${#nodes[@]} node(s) ($((SECONDS - start))s)"
