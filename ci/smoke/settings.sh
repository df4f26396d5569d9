# shellcheck shell=bash disable=SC2034
# The smoke test's settings: the environment ci/smoke.sh reads (defaults here) and the values
# that follow from it. Sourced by ci/smoke.sh; every step sees them.
#
# Environment (defaults in brackets):
#   RELEASE [production-api]  NAMESPACE [production-api-smoke]
#   CHART [charts/production-api]  the checkout's chart; its values-*.yaml are the overlays
#   CHART_REF, CHART_VERSION  a released chart (oci://registry/charts/production-api) to install
#   IMAGE_DIGEST              the release's image digest (sha256:...), with IMAGE_REPOSITORY
#   PREVIOUS_CHART_VERSION, PREVIOUS_IMAGE_DIGEST  the release to install first and upgrade from
#   HELM_PLAIN_HTTP [0]       1: CHART_REF's registry speaks plain HTTP (`--plain-http`; Helm 4
#                             no longer falls back to HTTP by itself)
#   SMOKE_HELM3               a Helm 3 binary: the release is also installed and upgraded by
#                             Helm 3, then upgraded and rolled back by `helm` (Helm 4) under load
#   IMAGE_REPOSITORY [production-api]  IMAGE_TAG [dev]  IMAGE_PULL_POLICY [IfNotPresent]
#   PROM_OPERATOR_VERSION [v0.80.1]  GATEWAY_API_VERSION [v1.6.3]  (ci/versions.env)
#   PROM_CRDS     Prometheus Operator CRDs: a local file or directory [the release's URL]
#   GATEWAY_CRDS  Gateway API CRDs: a local file or directory [the release's URL]
#   HELM_TIMEOUT [5m]  ROLLOUT_TIMEOUT [300s]  WAIT_SECONDS [120] (other bounded waits)
#   LOAD_MAX_SECONDS [300]  request loop upper bound; it stops earlier once told to
#   LOAD_INTERVAL [0.05]    seconds between two requests of the loop
#   SMOKE_MONITORING [1]    0 skips the Prometheus Operator part
#   SMOKE_CPU_REQUEST       the release's CPU request in every overlay (e.g. 100m), for a cluster
#                           whose nodes cannot hold the prod overlay's 250m pods during a rollout
#                           (kind's one node on a 2-CPU machine: three pods, a surge pod and the
#                           terminating ones beside the control plane's 850m); unset: the overlays'
#   MONITORING_NAMESPACE [monitoring]  MONITORING_RELEASE [kube-prometheus-stack]
#   PROM_OPERATOR_IMAGE, PROM_CONFIG_RELOADER_IMAGE, PROMETHEUS_IMAGE  (ci/monitoring-stack.sh)
#   SMOKE_TRACING_ENDPOINT, SMOKE_TRACING_SPANS  a collector for the tracing check (optional)
#   SMOKE_LOGS_URL          a VictoriaLogs the nodes' log agents send every pod's lines to (the
#                           project's cluster: ci/cluster/up/log-store.sh); without it the log
#                           steps are skipped and say so
#   SMOKE_NODE_CONTROL      a command `CMD stop|start NODE` that takes a node down hard and back
#                           (the project's cluster: ci/cluster/node.sh); without it the
#                           node-loss step is skipped and says so
#   SMOKE_TRAEFIK_IMAGE     a Traefik v3.6 image the nodes have (the project's cluster builds it
#                           from ci/traefik): the TLS edge steps run it as the ingress and
#                           Gateway API controller; without it they are skipped and say so. They
#                           reach its Service's ClusterIP from where this script runs
#   EDGE_NAMESPACE [<RELEASE>-edge]  the controller's namespace, with its Gateway
#   KEEP=1                  after proving the uninstall, install the release again (prod
#                           overlay, the chart every upgrade installs) and leave it running
#   SMOKE_REPORT            a file for the failure report (failed step, its error, its output)
#   SMOKE_STEP_TIMES        a file for each step's seconds ("<seconds>\t<step>" lines)

# shellcheck source=ci/versions.env
source "$REPO_ROOT/ci/versions.env"

RELEASE="${RELEASE:-production-api}"
NAMESPACE="${NAMESPACE:-production-api-smoke}"
CHART="${CHART:-$REPO_ROOT/charts/production-api}"
IMAGE_REPOSITORY="${IMAGE_REPOSITORY:-production-api}"
IMAGE_TAG="${IMAGE_TAG:-dev}"
IMAGE_PULL_POLICY="${IMAGE_PULL_POLICY:-IfNotPresent}"
PROM_CRDS="${PROM_CRDS:-https://github.com/prometheus-operator/prometheus-operator/releases/download/$PROM_OPERATOR_VERSION/stripped-down-crds.yaml}"
GATEWAY_CRDS="${GATEWAY_CRDS:-https://github.com/kubernetes-sigs/gateway-api/releases/download/$GATEWAY_API_VERSION/standard-install.yaml}"
HELM_TIMEOUT="${HELM_TIMEOUT:-5m}"
ROLLOUT_TIMEOUT="${ROLLOUT_TIMEOUT:-300s}"
WAIT_SECONDS="${WAIT_SECONDS:-120}"
LOAD_MAX_SECONDS="${LOAD_MAX_SECONDS:-300}"
LOAD_INTERVAL="${LOAD_INTERVAL:-0.05}"
KEEP="${KEEP:-0}"
CHART_REF="${CHART_REF:-}"
CHART_VERSION="${CHART_VERSION:-}"
HELM_PLAIN_HTTP="${HELM_PLAIN_HTTP:-0}"
SMOKE_HELM3="${SMOKE_HELM3:-}"
IMAGE_DIGEST="${IMAGE_DIGEST:-}"
PREVIOUS_CHART_VERSION="${PREVIOUS_CHART_VERSION:-}"
PREVIOUS_IMAGE_DIGEST="${PREVIOUS_IMAGE_DIGEST:-}"
SMOKE_MONITORING="${SMOKE_MONITORING:-1}"
SMOKE_CPU_REQUEST="${SMOKE_CPU_REQUEST:-}"
SMOKE_TRACING_ENDPOINT="${SMOKE_TRACING_ENDPOINT:-}"
SMOKE_TRACING_SPANS="${SMOKE_TRACING_SPANS:-}"
SMOKE_NODE_CONTROL="${SMOKE_NODE_CONTROL:-}"
SMOKE_LOGS_URL="${SMOKE_LOGS_URL:-}"
SMOKE_REPORT="${SMOKE_REPORT:-}"
SMOKE_STEP_TIMES="${SMOKE_STEP_TIMES:-}"
SMOKE_TRAEFIK_IMAGE="${SMOKE_TRAEFIK_IMAGE:-}"
EDGE_NAMESPACE="${EDGE_NAMESPACE:-$RELEASE-edge}"
MONITORING_NAMESPACE="${MONITORING_NAMESPACE:-monitoring}"
MONITORING_RELEASE="${MONITORING_RELEASE:-kube-prometheus-stack}"
export MONITORING_NAMESPACE MONITORING_RELEASE

SELECTOR="app.kubernetes.io/instance=$RELEASE"
# The smoke test's own helpers (load clients, the readiness dependency) carry this label
# instead, so that "nothing of the release is left" is checked on the chart's objects alone.
HELPER_SELECTOR="app.kubernetes.io/part-of=$RELEASE-smoke"
APP_SELECTOR="$SELECTOR,app.kubernetes.io/name"
DEP="$RELEASE-smoke-dep"
# The image of the smoke test's own pods: the release's, already on the nodes.
IMAGE_REF="$IMAGE_REPOSITORY:$IMAGE_TAG"
[[ -z "$IMAGE_DIGEST" ]] || IMAGE_REF="$IMAGE_REPOSITORY@$IMAGE_DIGEST"
WORK="$(mktemp -d)"
PF_PID=""
# What the first step finds out about the cluster: its nodes, and the one that runs the smoke
# test's own pods (load clients, the readiness dependency, the monitoring stack).
NODES=()
HELPER_NODE=""
NODE_SELECTOR="{}"
PROM_PF_PID=""
# What the first step finds out about the cluster: its nodes, and the one that runs the smoke
# test's own pods (load clients, the readiness dependency, the monitoring stack).
NODES=()
HELPER_NODE=""
NODE_SELECTOR="{}"
PROM_URL=""

# What the install step finds out about the release, for the steps after it.
DEPLOYMENT=""   # deployment/<name>
SERVICE=""      # service/<name>
SERVICE_PORT="" # its http port
SERVICE_URL=""  # http://<ClusterIP>:<port>/items/1, for the load clients
JOB=""          # the Prometheus Operator's job label: the Service's name

# The TLS edge (steps 24 to 26): the test hosts, both named by the leaf certificate, its
# kubernetes.io/tls Secret (in the release's namespace for the Ingress, in EDGE_NAMESPACE for
# the Gateway), and what step 24 finds out: the CA file the clients trust, the controller's
# Service address.
INGRESS_HOST="ingress.$RELEASE.test"
GATEWAY_HOST="gateway.$RELEASE.test"
EDGE_TLS_SECRET="$RELEASE-edge-tls"
EDGE_CA=""
EDGE_IP=""
