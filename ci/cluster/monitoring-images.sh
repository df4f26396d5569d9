#!/usr/bin/env bash
# Builds the monitoring stack's images for the test cluster with podman (nothing can be pulled
# here) and loads them into the node. Prints the three image names as IMAGE=... lines for
# ci/monitoring-stack.sh:
#   PROM_OPERATOR_IMAGE         the operator built by ci/cluster/build.sh, FROM scratch
#   PROM_CONFIG_RELOADER_IMAGE  its config reloader, FROM scratch
#   PROMETHEUS_IMAGE            Prometheus $PROMETHEUS_VERSION built by ci/cluster/build.sh, FROM
#                               scratch
# An image whose tag (version and binary digest) exists in podman's store is not rebuilt.
set -euo pipefail

# shellcheck source=ci/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

podman_() { "$REPO_ROOT/ci/podman.sh" "$@"; }

# image NAME VERSION BINARY: localhost/NAME:VERSION-<digest>, FROM scratch, BINARY its entry point.
image() {
  local name="$1" version="$2" binary="$3" ref ctx
  ref="localhost/$name:$version-$(sha256sum "$binary" | cut -c1-12)"
  if ! podman_ image exists "$ref"; then
    ctx="$(mktemp -d)"
    cp "$binary" "$ctx/$name"
    printf 'FROM scratch\nCOPY %s /bin/%s\nUSER 65534:65534\nENTRYPOINT ["/bin/%s"]\n' \
      "$name" "$name" "$name" >"$ctx/Containerfile"
    podman_ build --quiet --format docker --tag "$ref" --file "$ctx/Containerfile" "$ctx" >/dev/null
    rm -rf "$ctx"
  fi
  printf '%s\n' "$ref"
}

operator="$(image prometheus-operator "$PROM_OPERATOR_VERSION" "$CLUSTER_BIN/operator")"
reloader="$(image prometheus-config-reloader "$PROM_OPERATOR_VERSION" "$CLUSTER_BIN/prometheus-config-reloader")"
prometheus="$(image prometheus "$PROMETHEUS_VERSION" "$CLUSTER_BIN/prometheus")"
"$REPO_ROOT/ci/cluster/load-image.sh" "$operator" "$reloader" "$prometheus" >&2
printf 'PROM_OPERATOR_IMAGE=%s\nPROM_CONFIG_RELOADER_IMAGE=%s\nPROMETHEUS_IMAGE=%s\n' \
  "$operator" "$reloader" "$prometheus"
