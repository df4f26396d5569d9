# shellcheck shell=bash disable=SC2034  # sets the arguments the steps use
# The smoke test's library, sourced by ci/smoke.sh after its settings (ci/smoke/settings.sh):
# kubectl and helm in the namespace, the release's arguments, port-forwards, the manifests,
# the load clients, the checks several steps share, and the exit trap (diagnostics, clean-up,
# the failure report). Bounded waits (wait_until, until_true), `fail`, `log` and `render` are
# ci/lib.sh's. Over 250 lines because it is the one library all the steps share.

SMOKE_DIR="$REPO_ROOT/ci/smoke"

kc() { kubectl --namespace "$NAMESPACE" "$@"; }
hm() { helm --namespace "$NAMESPACE" "$@"; }

# run_step NAME FILE: step NAME (ci/lib.sh) is ci/smoke/steps/FILE.sh, sourced so that it
# shares the settings and what earlier steps found out.
run_step() {
  step "$1"
  # shellcheck source=/dev/null
  source "$SMOKE_DIR/steps/$2.sh"
}

# manifest NAME NAME=VALUE...: ci/smoke/manifests/NAME.yaml with its placeholders filled.
manifest() {
  render "$SMOKE_DIR/manifests/$1.yaml" "${@:2}"
}

# smoke_preflight: the tools, the chart, and the arguments of every helm install and upgrade.
smoke_preflight() {
  local tool
  for tool in kubectl helm curl; do
    command -v "$tool" >/dev/null || fail "$tool not found on PATH"
  done
  [[ -f "$CHART/Chart.yaml" ]] || fail "no chart at $CHART"
  # Helm 3 and Helm 4 both run the smoke test; where their flags differ, HELM_MAJOR decides.
  HELM_VERSION_SEEN="$(helm version --template '{{.Version}}')"
  HELM_MAJOR="${HELM_VERSION_SEEN#v}"
  HELM_MAJOR="${HELM_MAJOR%%.*}"
  [[ "$HELM_MAJOR" == 3 || "$HELM_MAJOR" == 4 ]] || fail "helm $HELM_VERSION_SEEN: Helm 3 or 4 is needed"
  log "helm $HELM_VERSION_SEEN"

  MONITORING_ARGS=()
  if [[ "$SMOKE_MONITORING" == 1 ]]; then
    # What the chart's README tells users of kube-prometheus-stack to set, plus short intervals and
    # `for:` so that the checks take seconds.
    MONITORING_ARGS=(
      --set serviceMonitor.enabled=true
      --set "serviceMonitor.labels.release=$MONITORING_RELEASE"
      --set serviceMonitor.interval=5s --set serviceMonitor.scrapeTimeout=4s
      --set prometheusRule.enabled=true
      --set "prometheusRule.labels.release=$MONITORING_RELEASE"
      --set prometheusRule.alerts.targetMissing.for=10s
      --set networkPolicy.enabled=true
      --set "networkPolicy.monitoringNamespace=$MONITORING_NAMESPACE"
      --set networkPolicy.allowSameNamespace=true
    )
  fi
  IMAGE_ARGS=(
    --set "image.repository=$IMAGE_REPOSITORY"
    --set "image.pullPolicy=$IMAGE_PULL_POLICY"
    "${MONITORING_ARGS[@]}"
  )
  if [[ -n "$SMOKE_CPU_REQUEST" ]]; then
    IMAGE_ARGS+=(--set "resources.requests.cpu=$SMOKE_CPU_REQUEST")
    log "every install and upgrade with resources.requests.cpu=$SMOKE_CPU_REQUEST (SMOKE_CPU_REQUEST)"
  fi
  # The chart and image every upgrade installs (CHART_ARGS): the checkout's chart and
  # IMAGE_TAG, or the released chart from CHART_REF pinned to IMAGE_DIGEST. The first install
  # may be the previous release instead (FIRST_ARGS, FIRST_DIGEST).
  if [[ -n "$CHART_REF" ]]; then
    [[ -n "$CHART_VERSION" && "$IMAGE_DIGEST" == sha256:* ]] ||
      fail "CHART_REF needs CHART_VERSION and IMAGE_DIGEST"
    CHART_ARGS=("$CHART_REF" --version "$CHART_VERSION" --set "image.digest=$IMAGE_DIGEST")
    [[ "$HELM_PLAIN_HTTP" != 1 ]] || CHART_ARGS+=(--plain-http)
    if [[ -n "$PREVIOUS_CHART_VERSION" ]]; then
      [[ "$PREVIOUS_IMAGE_DIGEST" == sha256:* ]] || fail "PREVIOUS_CHART_VERSION needs PREVIOUS_IMAGE_DIGEST"
      FIRST_ARGS=("$CHART_REF" --version "$PREVIOUS_CHART_VERSION" --set "image.digest=$PREVIOUS_IMAGE_DIGEST")
      [[ "$HELM_PLAIN_HTTP" != 1 ]] || FIRST_ARGS+=(--plain-http)
      FIRST_DIGEST="$PREVIOUS_IMAGE_DIGEST"
    else
      FIRST_ARGS=("${CHART_ARGS[@]}")
      FIRST_DIGEST="$IMAGE_DIGEST"
    fi
  else
    CHART_ARGS=("$CHART" --set "image.tag=$IMAGE_TAG")
    FIRST_ARGS=("${CHART_ARGS[@]}")
    FIRST_DIGEST=""
  fi
  # Tracing is a value of this version of the chart (a previous release may not know it).
  if [[ -n "$SMOKE_TRACING_ENDPOINT" ]]; then
    CHART_ARGS+=(--set tracing.enabled=true --set "tracing.endpoint=$SMOKE_TRACING_ENDPOINT")
  fi
}

# port_forward NAMESPACE TARGET PORT NAME: `kubectl port-forward` in the background to a free
# local port; sets FORWARD_PID (kubectl's own PID) and FORWARD_PORT.
port_forward() {
  local log="$WORK/port-forward-$4.log"
  kubectl --namespace "$1" port-forward "$2" ":$3" >"$log" 2>&1 &
  FORWARD_PID=$!
  FORWARD_PORT=""
  for _ in $(seq 1 50); do
    FORWARD_PORT="$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$log" | head -n1)"
    [[ -n "$FORWARD_PORT" ]] && return 0
    kill -0 "$FORWARD_PID" 2>/dev/null || { cat "$log" >&2; fail "port-forward to $2 exited"; }
    sleep 0.2
  done
  fail "port-forward to $2 did not report a local port"
}

# forward_to_service NAME: port_forward to the release's Service; PF_PID is stopped on exit.
forward_to_service() {
  port_forward "$NAMESPACE" "$SERVICE" "$SERVICE_PORT" "$1"
  PF_PID="$FORWARD_PID"
}

# stop_forward: stops the port-forward to the Service.
stop_forward() {
  kill "$PF_PID" 2>/dev/null || true
  wait "$PF_PID" 2>/dev/null || true
  PF_PID=""
}

# ---------------------------------------------------------------------------------------------
# The release's state, as several steps check it.

# settled: the rollout is complete and no pod of the release is terminating any more (old
# pods finish their drain after the rollout reports success).
settled() {
  local terminating
  terminating="$(kc get pods -l "$APP_SELECTOR" \
    -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}{"\n"}{end}' | grep -c . || true)"
  ((terminating == 0)) && kc rollout status "$DEPLOYMENT" --timeout=1s >/dev/null 2>&1
}

app_env() {
  kc get "$DEPLOYMENT" \
    -o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="APP_ENV")].value}'
}

# ready_endpoints: how many of the Service's endpoints are ready.
ready_endpoints() {
  kc get endpointslices -l "kubernetes.io/service-name=${SERVICE#service/}" \
    -o jsonpath='{range .items[*].endpoints[*]}{.conditions.ready}{"\n"}{end}' | grep -c '^true$' || true
}

# release_nodes: the node of each running pod of the release that is not terminating, one line
# per pod.
release_nodes() {
  kc get pods -l "$APP_SELECTOR" --field-selector=status.phase=Running \
    -o jsonpath='{range .items[*]}{.spec.nodeName} {.metadata.deletionTimestamp}{"\n"}{end}' |
    awk 'NF == 1 {print $1}'
}

# victim_node: a node that runs pods of the release and not the smoke test's own (HELPER_NODE).
victim_node() {
  local node
  node="$(release_nodes | grep -vFx "$HELPER_NODE" | sort | uniq -c | sort -rn | awk 'NR == 1 {print $2}')"
  [[ -n "$node" ]] || fail "no node other than $HELPER_NODE runs pods of the release"
  printf '%s\n' "$node"
}

# single_node WHAT: true (and says why WHAT is skipped) when the cluster has one node.
single_node() {
  ((${#NODES[@]} < 2)) || return 1
  log "skipped: $1 needs more than one node, and this cluster has one"
}

# check_digest DIGEST: every pod of the release runs exactly the image DIGEST (its imageID,
# which the kubelet reports from the runtime), when one is given; prints the chart version.
check_digest() {
  [[ -n "$1" ]] || return 0
  local ids chart_label
  ids="$(kc get pods -l "$APP_SELECTOR" --field-selector=status.phase=Running \
    -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}{" "}{.status.containerStatuses[0].imageID}{"\n"}{end}' |
    awk 'NF == 1 {print $1}' | sort -u)"
  [[ "$ids" == *"@$1" && "$(grep -c . <<<"$ids")" == 1 ]] ||
    fail "pods run image(s) $(paste -sd' ' - <<<"$ids"), want @$1"
  chart_label="$(kc get "$DEPLOYMENT" -o jsonpath='{.metadata.labels.helm\.sh/chart}')"
  log "$chart_label: every pod runs $ids"
}

# prom_check CHECK ARGS...: ci/prometheus_check.py against the Prometheus (monitoring only).
prom_check() {
  [[ "$SMOKE_MONITORING" == 1 ]] || return 0
  local out
  out="$(python3 "$REPO_ROOT/ci/prometheus_check.py" --url "$PROM_URL" "$@")" ||
    fail "Prometheus check '$1' failed"
  log "prometheus: $out"
}

# prom_targets [ARGS...]: the scrape targets are exactly the release's running pods.
prom_targets() {
  local pods
  pods="$(kc get pods -l "$APP_SELECTOR" --field-selector=status.phase=Running \
    -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{"\n"}{end}' |
    awk 'NF == 1 {print $1}' | paste -sd, -)"
  prom_check targets --namespace "$NAMESPACE" --job "$JOB" --pods "$pods" "$@"
}

# ---------------------------------------------------------------------------------------------
# Load: a client pod inside the cluster (ci/smoke/load_client.py in the app's own image,
# manifests/load-client.yaml) sends requests to the Service by its ClusterIP: the load
# measures the rollout, not the cluster's DNS (which the helm test pod and the readiness
# dependency use by name).

# start_client NAME [INTERVAL]: starts the client pod NAME on HELPER_NODE, sending a request
# every INTERVAL [LOAD_INTERVAL] seconds, and waits until it has sent one. It sends them to
# SERVICE_URL; through the TLS edge, with CLIENT_URLS (https:// URLs, in turn), the client
# trusts EDGE_CA and resolves the test hosts to EDGE_IP (the pod's /etc/hosts).
start_client() {
  local name="$RELEASE-$1" interval="${2:-$LOAD_INTERVAL}" ca_args=() ca_file="" aliases="[]"
  if [[ -n "${CLIENT_URLS:-}" ]]; then
    ca_args=(--from-file=ca.crt="$EDGE_CA")
    ca_file=/smoke/ca.crt
    aliases="[{ip: \"$EDGE_IP\", hostnames: [$INGRESS_HOST, $GATEWAY_HOST]}]"
  fi
  kc delete pod "$name" --ignore-not-found --wait=true >/dev/null
  kc create configmap "$RELEASE-smoke-load-client" --dry-run=client -o yaml \
    --from-file=load_client.py="$SMOKE_DIR/load_client.py" "${ca_args[@]}" |
    kubectl label --local -f - -o yaml "$HELPER_SELECTOR" | kc apply -f - >/dev/null
  manifest load-client NAME="$name" RELEASE="$RELEASE" IMAGE="$IMAGE_REF" \
    IMAGE_PULL_POLICY="$IMAGE_PULL_POLICY" URL="${CLIENT_URLS:-$SERVICE_URL}" CA_FILE="$ca_file" \
    HOST_ALIASES="$aliases" MAX_SECONDS="$LOAD_MAX_SECONDS" INTERVAL="$interval" \
    NODE_SELECTOR="$NODE_SELECTOR" | kc apply -f - >/dev/null
  kc wait --for=condition=Ready "pod/$name" --timeout="${WAIT_SECONDS}s" >/dev/null
  until_true 60 "client pod $name to send a request" client_started "$name"
}
client_started() { kc logs "$1" 2>/dev/null | grep -q '^started'; }

# stop_client NAME WHAT [--failures-expected]: stops the client, logs the counts; fails when
# any request failed, unless failures are expected (then FAILURES_FROM and FAILURES_TO are
# when the first and the last failed request was sent, Unix time, or "-").
stop_client() {
  local name="$RELEASE-$1" what="$2" summary window
  kc exec "$name" -- python -c 'open("/tmp/stop", "w").close()'
  kc wait --for=jsonpath='{.status.phase}'=Succeeded "pod/$name" --timeout=60s >/dev/null
  kc logs "$name" >"$WORK/$1.log"
  summary="$(grep '^requests=' "$WORK/$1.log" || true)"
  [[ -n "$summary" ]] || { cat "$WORK/$1.log" >&2; fail "client pod $name printed no summary"; }
  CLIENT_SUMMARY="$summary"
  if [[ "${3:-}" == --failures-expected ]]; then
    grep 'request failed' "$WORK/$1.log" | sed -n '1,3p;$p' >&2 || true
    window="$(sed -n 's/^failures from=\([0-9.]*\) to=\([0-9.]*\)$/\1 \2/p' "$WORK/$1.log")"
    read -r FAILURES_FROM FAILURES_TO <<<"${window:-- -}"
  elif [[ "$summary" != *" failed=0" ]]; then
    grep 'request failed' "$WORK/$1.log" | head -n 20 >&2
    fail "requests failed $what ($summary)"
  fi
  log "$what: $summary"
  printf 'load %s: %s\n' "$what" "$summary"
  kc delete pod "$name" --wait=false >/dev/null
}

# ---------------------------------------------------------------------------------------------
# The log store (SMOKE_LOGS_URL): ci/smoke/logs_check.py's checks.

# no_log_store WHAT: true (and says why WHAT is skipped) when no log store is configured.
no_log_store() {
  [[ -z "$SMOKE_LOGS_URL" ]] || return 1
  log "skipped: $1 needs a log store fed by the nodes' log agents (SMOKE_LOGS_URL is not set)"
}

# logs_check WHAT CHECK ARGS...: the CHECK of ci/smoke/logs_check.py on the records of the
# namespace, retried while they are not (all) in the store yet; fails the step with what it
# printed when they are wrong, or after WAIT_SECONDS. Logs its line, also left in LOGS_CHECKED.
logs_check() {
  local what="$1" out rc deadline=$((SECONDS + WAIT_SECONDS))
  shift
  while :; do
    rc=0
    out="$(python3 "$SMOKE_DIR/logs_check.py" "$SMOKE_LOGS_URL" "$NAMESPACE" "$@")" || rc=$?
    case "$rc" in
      0) break ;;
      1) ((SECONDS < deadline)) || fail "timed out after ${WAIT_SECONDS}s waiting for $what: $out" ;;
      *) fail "$what: $out" ;;
    esac
    sleep 0.5
  done
  LOGS_CHECKED="$out"
  log "logs: $out"
}

# ---------------------------------------------------------------------------------------------
# The TLS edge (steps 24 to 26): Traefik, the Gateway and the test certificates.

# edge_skipped: true (and says why) when no Traefik image was given.
edge_skipped() {
  [[ -z "$SMOKE_TRAEFIK_IMAGE" ]] || return 1
  log "skipped: the TLS edge needs a Traefik image the nodes have (SMOKE_TRAEFIK_IMAGE)"
}

# edge_manifest: manifests/edge.yaml as step 24 applies it (and the exit trap deletes it).
edge_manifest() {
  manifest edge EDGE_NAMESPACE="$EDGE_NAMESPACE" NAME="$RELEASE-smoke-edge" \
    IMAGE="$SMOKE_TRAEFIK_IMAGE" NODE_SELECTOR="$NODE_SELECTOR" GATEWAY_HOST="$GATEWAY_HOST" \
    TLS_SECRET="$EDGE_TLS_SECRET" NAMESPACE="$NAMESPACE"
}

# edge_get URL [CURL_ARGS...]: GET URL through the controller's Service (its host resolved to
# EDGE_IP), trusting the test CA; the body goes to $WORK/body, the status code to stdout.
edge_get() {
  local url="$1" host
  host="${url#*://}"
  host="${host%%/*}"
  curl --silent --show-error --max-time 10 --cacert "$EDGE_CA" \
    --resolve "$host:443:$EDGE_IP" --resolve "$host:80:$EDGE_IP" \
    --output "$WORK/body" --write-out '%{http_code}' "${@:2}" "$url"
}

# ---------------------------------------------------------------------------------------------
# The exit trap.

dump_diagnostics() {
  echo "---------------- diagnostics ($SELECTOR in $NAMESPACE) ----------------" >&2
  {
    hm status "$RELEASE" || true
    hm history "$RELEASE" || true
    kc get all,pdb,hpa,endpointslices -l "$SELECTOR" -o wide || true
    kc get pods -l "$HELPER_SELECTOR" -o wide || true
    kc get events --sort-by=.lastTimestamp || true
    kc describe deployments,replicasets,pods,services -l "$SELECTOR" || true
    kc logs -l "$SELECTOR" --all-containers --prefix --tail=200 || true
    kc logs -l "$SELECTOR" --all-containers --prefix --tail=100 --previous 2>/dev/null || true
    if [[ -n "$EDGE_CA" ]]; then
      kubectl --namespace "$EDGE_NAMESPACE" get all,gateways -o wide || true
      kubectl --namespace "$EDGE_NAMESPACE" describe gateways || true
      kc describe ingresses,httproutes || true
      kubectl --namespace "$EDGE_NAMESPACE" logs deployment/traefik --tail=100 || true
    fi
  } >&2
}

# smoke_cleanup: on failure the diagnostics; the release, its namespace and the monitoring
# stack removed unless KEEP=1; the step times; as the last lines, the failure report.
smoke_cleanup() {
  local rc=$?
  set +e
  trap - ERR
  if ((rc == 0)); then steps_close; else steps_failed; fi
  [[ -n "$PF_PID" ]] && kill "$PF_PID" 2>/dev/null
  [[ -n "$PROM_PF_PID" ]] && kill "$PROM_PF_PID" 2>/dev/null
  if ((rc != 0)); then
    echo "smoke: failed during: $STEP" >&2
    dump_diagnostics
  fi
  if [[ "$KEEP" != 1 ]]; then
    log "cleanup: uninstall $RELEASE, delete namespace $NAMESPACE"
    kc delete pods,services,configmaps -l "$HELPER_SELECTOR" --ignore-not-found --wait=false >/dev/null 2>&1
    hm uninstall "$RELEASE" --wait --timeout 2m >/dev/null 2>&1
    kubectl delete namespace "$NAMESPACE" --ignore-not-found --wait=false >/dev/null 2>&1
    if [[ "$SMOKE_MONITORING" == 1 ]]; then
      "$REPO_ROOT/ci/monitoring-stack.sh" down >/dev/null 2>&1
    fi
    if [[ -n "$EDGE_CA" ]]; then
      edge_manifest | kubectl delete -f - --ignore-not-found --wait=false >/dev/null 2>&1
    fi
  fi
  [[ -n "$SMOKE_STEP_TIMES" ]] && steps_times >"$SMOKE_STEP_TIMES"
  # The last lines: which step failed and why (after the diagnostics, for a terminal).
  if ((rc != 0)); then
    steps_report >&2
    [[ -n "$SMOKE_REPORT" ]] && steps_report >"$SMOKE_REPORT"
  fi
  steps_end
  rm -rf "$WORK"
  exit "$rc"
}
