#!/usr/bin/env bash
# Loads images from podman's store into the test cluster's containerd (the node's image
# store), as `kind load` does for kind: podman save, then ctr import. The names stay as podman
# has them (an image built as production-api:dev is localhost/production-api:dev).
#
#   ci/cluster/load-image.sh IMAGE...
set -euo pipefail

# shellcheck source=ci/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

(($#)) || cluster_die "usage: ci/cluster/load-image.sh IMAGE..."
ctr_ version >/dev/null 2>&1 || cluster_die "the cluster's containerd is not running (ci/cluster/up.sh)"

archive="$(mktemp "$CLUSTER_STATE/image.XXXXXX.tar")"
trap 'rm -f "$archive"' EXIT
for image in "$@"; do
  start=$SECONDS
  "$REPO_ROOT/ci/podman.sh" save --format docker-archive --output "$archive.tmp" "$image" 2>/dev/null ||
    cluster_die "podman has no image $image"
  mv -f "$archive.tmp" "$archive"
  ctr_ images import "$archive" >/dev/null
  cluster_log "loaded $image into the node ($((SECONDS - start))s)"
done
