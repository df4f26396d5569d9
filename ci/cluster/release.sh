#!/usr/bin/env bash
# Publishes two releases into the test cluster's OCI registry ($CLUSTER_REGISTRY), the way the
# release workflow publishes to GHCR: the image pushed and read back by digest, the chart
# packaged by ci/package-chart.sh (version from the app, image pinned by that digest) and
# `helm push`ed. The two releases are the current checkout (its image already built as
# IMAGE) and the previous version (ci/version.sh previous: its tag or commit, built from a
# `git archive` of it; the image is kept in podman's store by version and commit).
# Prints the environment ci/smoke.sh takes for the release path:
#   CHART_REF CHART_VERSION IMAGE_REPOSITORY IMAGE_TAG IMAGE_DIGEST
#   PREVIOUS_CHART_VERSION PREVIOUS_IMAGE_DIGEST
#
#   IMAGE=production-api:dev ci/cluster/release.sh
set -euo pipefail

# shellcheck source=ci/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGE="${IMAGE:-production-api:dev}"
repository="$CLUSTER_REGISTRY/production-api"
charts="oci://$CLUSTER_REGISTRY/charts"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

in_netns curl -fsS "http://$CLUSTER_REGISTRY/v2/" >/dev/null ||
  cluster_die "the cluster's registry $CLUSTER_REGISTRY does not answer (ci/cluster/up.sh)"

# publish LOCAL_IMAGE CHART_DIR OUT_DIR: pushes the image as <repository>:<version>, packages
# and pushes the chart pinned to the pushed digest; prints "<version> <digest>".
publish() {
  local image="$1" chart="$2" out="$3" version digest package
  version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$chart/../../app/__init__.py")"
  mkdir -p "$out"
  in_netns "$REPO_ROOT/ci/podman.sh" push --quiet --tls-verify=false \
    --digestfile "$out/digest" "$image" "docker://$repository:$version" >&2
  digest="$(<"$out/digest")"
  package="$("$REPO_ROOT/ci/package-chart.sh" "$out" --chart "$chart" \
    --image "$repository" --digest "$digest")"
  in_netns helm push "$package" "$charts" --plain-http >/dev/null 2>"$out/push.log" ||
    { cat "$out/push.log" >&2; cluster_die "helm push $package failed"; }
  cluster_log "published production-api $version: $charts/production-api:$version, $repository@$digest"
  printf '%s %s\n' "$version" "$digest"
}

# The previous release, from its commit.
read -r previous_version previous_commit < <(cd "$REPO_ROOT" && "$REPO_ROOT/ci/version.sh" previous)
previous_image="localhost/production-api:$previous_version-${previous_commit:0:12}"
mkdir -p "$work/previous"
git -C "$REPO_ROOT" archive "$previous_commit" | tar -x -C "$work/previous"
if ! "$REPO_ROOT/ci/podman.sh" image exists "$previous_image"; then
  cluster_log "building the image of $previous_version (commit ${previous_commit:0:12})"
  (cd "$work/previous" && IMAGE="$previous_image" LOCAL_BASE=1 CONTAINER_ENGINE=podman \
    SOURCE_URL="" ./ci/build-image.sh) >&2
fi
read -r prev_version prev_digest < <(publish "$previous_image" "$work/previous/charts/production-api" "$work/out-previous")
[[ "$prev_version" == "$previous_version" ]] || cluster_die "commit $previous_commit is $prev_version, not $previous_version"

# The current checkout.
local_image="$IMAGE"
[[ "$local_image" == */* ]] || local_image="localhost/$local_image"
read -r version digest < <(publish "$local_image" "$REPO_ROOT/charts/production-api" "$work/out-current")

printf '%s\n' \
  "CHART_REF=$charts/production-api" "CHART_VERSION=$version" \
  "IMAGE_REPOSITORY=$repository" "IMAGE_TAG=$version" "IMAGE_DIGEST=$digest" \
  "PREVIOUS_CHART_VERSION=$prev_version" "PREVIOUS_IMAGE_DIGEST=$prev_digest"
