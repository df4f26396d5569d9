#!/usr/bin/env bash
# Builds the monitoring stack's images for the test cluster with podman (nothing can be pulled
# here) and loads them into the node. Prints the three image names as IMAGE=... lines for
# ci/monitoring-stack.sh:
#   PROM_OPERATOR_IMAGE         the operator built by ci/cluster/build.sh, FROM scratch
#   PROM_CONFIG_RELOADER_IMAGE  its config reloader, FROM scratch
#   PROMETHEUS_IMAGE            Prometheus $PROMETHEUS_VERSION built by ci/cluster/build.sh, FROM
#                               scratch
# An image whose tag (version and binary digest) exists in podman's store is not rebuilt
# (scratch_image, ci/cluster/lib.sh).
set -euo pipefail

# shellcheck source=ci/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

operator="$(scratch_image prometheus-operator "$PROM_OPERATOR_VERSION" "$CLUSTER_BIN/operator")"
reloader="$(scratch_image prometheus-config-reloader "$PROM_OPERATOR_VERSION" "$CLUSTER_BIN/prometheus-config-reloader")"
prometheus="$(scratch_image prometheus "$PROMETHEUS_VERSION" "$CLUSTER_BIN/prometheus")"
"$REPO_ROOT/ci/cluster/load-image.sh" "$operator" "$reloader" "$prometheus" >&2
printf 'PROM_OPERATOR_IMAGE=%s\nPROM_CONFIG_RELOADER_IMAGE=%s\nPROMETHEUS_IMAGE=%s\n' \
  "$operator" "$reloader" "$prometheus"
