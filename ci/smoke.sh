#!/usr/bin/env bash
# Smoke test of the chart and the image on whatever cluster the current kube context points at
# (the project's own test cluster in `make test`, kind in `make kind-smoke`):
#   1. a namespace that enforces Pod Security `restricted`, proven by a pod it must refuse;
#   2. CRDs: Prometheus Operator and Gateway API (pinned), unless the cluster has them;
#   3. every overlay (dev, staging, prod, ci/all-on-values.yaml) rendered and checked by the
#      API server: `kubectl apply --dry-run=server --validate=strict`, no warning allowed;
#   4. `helm install` dev --wait, `helm test`, every endpoint through `kubectl port-forward`;
#   5. `helm upgrade` to staging, then to prod, while a client pod inside the cluster sends a
#      bounded stream of requests to the Service: a graceful rollout fails none of them;
#   6. a pod deleted under the same kind of load: no request fails (preStop, drain, grace);
#   7. `helm rollback` restores the previous environment (staging);
#   8. real readiness probes: a dependency that goes away takes every pod out of the Service's
#      endpoints, and its return brings them back;
#   9. `helm uninstall` leaves no object of the release behind.
# With SMOKE_MONITORING=1 (the default) it also installs a Prometheus Operator and a Prometheus
# (ci/monitoring-stack.sh) that select ServiceMonitors and PrometheusRules by the `release`
# label as kube-prometheus-stack does, installs the release with its ServiceMonitor,
# PrometheusRule and NetworkPolicy on, and checks through the Prometheus HTTP API
# (ci/prometheus_check.py): after each install and upgrade the targets are exactly the
# release's pods, up, found by Kubernetes service discovery, with the documented labels; the
# request series carry the app's own `endpoint` label; every dashboard query and rule
# expression evaluates and the rule groups are loaded; ProductionApiTargetMissing fires when
# the Deployment is scaled to 0 and resolves when it is back.
# With CHART_REF (an oci:// chart) and IMAGE_DIGEST it installs released charts the way users
# do: `helm install oci://... --version X --set image.digest=...`; with PREVIOUS_CHART_VERSION
# and PREVIOUS_IMAGE_DIGEST the dev install is the previous release, and the upgrade to staging
# under load is the upgrade from it to the new one. The pods must run exactly the digest.
# With SMOKE_TRACING_ENDPOINT (an OTLP/HTTP collector the pods reach) and SMOKE_TRACING_SPANS
# (the file that collector writes its spans to, OTLP JSON lines) the checkout's chart is
# installed with tracing on, and one request with a known traceparent through the Service must
# arrive there as its server span.
# On failure: events, `describe` and logs of everything labelled app.kubernetes.io/instance,
# then, as the last lines, the step that failed, its error and what it printed last.
# The release and (by default) its namespace are removed on exit; KEEP=1 installs it again.
#
# Environment (defaults in brackets):
#   RELEASE [production-api]  NAMESPACE [production-api-smoke]
#   CHART [charts/production-api]  the checkout's chart; its values-*.yaml are the overlays
#   CHART_REF, CHART_VERSION  a released chart (oci://registry/charts/production-api) to install
#   IMAGE_DIGEST              the release's image digest (sha256:...), with IMAGE_REPOSITORY
#   PREVIOUS_CHART_VERSION, PREVIOUS_IMAGE_DIGEST  the release to install first and upgrade from
#   IMAGE_REPOSITORY [production-api]  IMAGE_TAG [dev]  IMAGE_PULL_POLICY [IfNotPresent]
#   PROM_OPERATOR_VERSION [v0.80.1]  GATEWAY_API_VERSION [v1.6.3]  (ci/versions.env)
#   PROM_CRDS     Prometheus Operator CRDs: a local file or directory [the release's URL]
#   GATEWAY_CRDS  Gateway API CRDs: a local file or directory [the release's URL]
#   HELM_TIMEOUT [5m]  ROLLOUT_TIMEOUT [300s]  WAIT_SECONDS [120] (other bounded waits)
#   LOAD_MAX_SECONDS [300]  request loop upper bound; it stops earlier once told to
#   LOAD_INTERVAL [0.05]    seconds between two requests of the loop
#   SMOKE_MONITORING [1]    0 skips the Prometheus Operator part
#   MONITORING_NAMESPACE [monitoring]  MONITORING_RELEASE [kube-prometheus-stack]
#   PROM_OPERATOR_IMAGE, PROM_CONFIG_RELOADER_IMAGE, PROMETHEUS_IMAGE  (ci/monitoring-stack.sh)
#   SMOKE_TRACING_ENDPOINT, SMOKE_TRACING_SPANS  a collector for the tracing check (optional)
#   KEEP=1                  after proving the uninstall, install the release again (prod
#                           overlay, the chart every upgrade installs) and leave it running
#   SMOKE_REPORT            a file for the failure report (failed step, its error, its output)
#   SMOKE_STEP_TIMES        a file for each step's seconds ("<seconds>\t<step>" lines)
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
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
IMAGE_DIGEST="${IMAGE_DIGEST:-}"
PREVIOUS_CHART_VERSION="${PREVIOUS_CHART_VERSION:-}"
PREVIOUS_IMAGE_DIGEST="${PREVIOUS_IMAGE_DIGEST:-}"
SMOKE_MONITORING="${SMOKE_MONITORING:-1}"
SMOKE_TRACING_ENDPOINT="${SMOKE_TRACING_ENDPOINT:-}"
SMOKE_TRACING_SPANS="${SMOKE_TRACING_SPANS:-}"
SMOKE_REPORT="${SMOKE_REPORT:-}"
SMOKE_STEP_TIMES="${SMOKE_STEP_TIMES:-}"
MONITORING_NAMESPACE="${MONITORING_NAMESPACE:-monitoring}"
MONITORING_RELEASE="${MONITORING_RELEASE:-kube-prometheus-stack}"
export MONITORING_NAMESPACE MONITORING_RELEASE

SELECTOR="app.kubernetes.io/instance=$RELEASE"
# The smoke test's own helpers (load clients, the readiness dependency) carry this label
# instead, so that "nothing of the release is left" is checked on the chart's objects alone.
HELPER_SELECTOR="app.kubernetes.io/part-of=$RELEASE-smoke"
APP_SELECTOR="$SELECTOR,app.kubernetes.io/name"
DEP="$RELEASE-smoke-dep"
WORK="$(mktemp -d)"
PF_PID=""
PROM_PF_PID=""
PROM_URL=""

kc() { kubectl --namespace "$NAMESPACE" "$@"; }
hm() { helm --namespace "$NAMESPACE" "$@"; }

# wait_until SECONDS CMD...: retries CMD every second; returns 1 after SECONDS.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 1
  done
}
# until_true SECONDS WHAT CMD...: wait_until, failing with WHAT on time-out.
until_true() {
  local seconds="$1" what="$2"
  shift 2
  wait_until "$seconds" "$@" || fail "timed out after ${seconds}s waiting for $what"
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
  } >&2
}

cleanup() {
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
    kc delete pods,services -l "$HELPER_SELECTOR" --ignore-not-found --wait=false >/dev/null 2>&1
    hm uninstall "$RELEASE" --wait --timeout 2m >/dev/null 2>&1
    kubectl delete namespace "$NAMESPACE" --ignore-not-found --wait=false >/dev/null 2>&1
    if [[ "$SMOKE_MONITORING" == 1 ]]; then
      "$REPO_ROOT/ci/monitoring-stack.sh" down >/dev/null 2>&1
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
steps_begin smoke
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in kubectl helm curl; do
  command -v "$tool" >/dev/null || fail "$tool not found on PATH"
done
[[ -f "$CHART/Chart.yaml" ]] || fail "no chart at $CHART"

step "cluster: context $(kubectl config current-context)"
kubectl version >&2

# ---------------------------------------------------------------------------------------------
step "namespace $NAMESPACE, Pod Security restricted"
kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $NAMESPACE
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
    pod-security.kubernetes.io/warn: restricted
    pod-security.kubernetes.io/audit: restricted
EOF
# The API server's PodSecurity admission must refuse a pod without the restricted settings.
if kc run pss-probe --image="$IMAGE_REPOSITORY:$IMAGE_TAG" --restart=Never \
  --dry-run=server >"$WORK/pss.out" 2>&1; then
  fail "namespace $NAMESPACE admitted a pod that violates Pod Security restricted"
fi
grep -q 'violates PodSecurity "restricted' "$WORK/pss.out" ||
  fail "unexpected refusal of the probe pod: $(cat "$WORK/pss.out")"
log "PodSecurity admission refuses a non-restricted pod"

# ---------------------------------------------------------------------------------------------
# install_crds CRD SOURCE: applies SOURCE (file, directory or URL) unless the cluster has CRD.
install_crds() {
  local crd="$1" source="$2"
  if kubectl get crd "$crd" >/dev/null 2>&1; then
    log "$crd present; leaving the cluster's CRDs alone"
    return
  fi
  log "installing CRDs from $source"
  kubectl apply --server-side -f "$source" >/dev/null
  # Not `kubectl wait --for=condition=Established`: a CRD just created may have no status
  # yet, and kubectl wait then fails at once.
  until_true "$WAIT_SECONDS" "CRD $crd to be established" crd_established "$crd"
}
crd_established() {
  [[ "$(kubectl get crd "$1" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' 2>/dev/null)" == True ]]
}
step "CRDs"
install_crds servicemonitors.monitoring.coreos.com "$PROM_CRDS"
install_crds prometheusrules.monitoring.coreos.com "$PROM_CRDS"
install_crds httproutes.gateway.networking.k8s.io "$GATEWAY_CRDS"

monitoring_args=()
if [[ "$SMOKE_MONITORING" == 1 ]]; then
  step "Prometheus Operator and Prometheus in namespace $MONITORING_NAMESPACE"
  "$REPO_ROOT/ci/monitoring-stack.sh" up
  port_forward "$MONITORING_NAMESPACE" service/prometheus-operated 9090 prometheus
  PROM_PF_PID="$FORWARD_PID"
  PROM_URL="http://127.0.0.1:$FORWARD_PORT"
  # What the README tells users of kube-prometheus-stack to set, plus short intervals and
  # `for:` so that the checks below take seconds.
  monitoring_args=(
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

image_args=(
  --set "image.repository=$IMAGE_REPOSITORY"
  --set "image.pullPolicy=$IMAGE_PULL_POLICY"
  "${monitoring_args[@]}"
)
# The chart and image every upgrade installs: the checkout's chart and IMAGE_TAG, or the
# released chart from CHART_REF pinned to IMAGE_DIGEST. The first install may be the previous
# release instead (first_args).
if [[ -n "$CHART_REF" ]]; then
  [[ -n "$CHART_VERSION" && "$IMAGE_DIGEST" == sha256:* ]] ||
    fail "CHART_REF needs CHART_VERSION and IMAGE_DIGEST"
  chart_args=("$CHART_REF" --version "$CHART_VERSION" --set "image.digest=$IMAGE_DIGEST")
  if [[ -n "$PREVIOUS_CHART_VERSION" ]]; then
    [[ "$PREVIOUS_IMAGE_DIGEST" == sha256:* ]] || fail "PREVIOUS_CHART_VERSION needs PREVIOUS_IMAGE_DIGEST"
    first_args=("$CHART_REF" --version "$PREVIOUS_CHART_VERSION" --set "image.digest=$PREVIOUS_IMAGE_DIGEST")
    first_digest="$PREVIOUS_IMAGE_DIGEST"
  else
    first_args=("${chart_args[@]}")
    first_digest="$IMAGE_DIGEST"
  fi
else
  chart_args=("$CHART" --set "image.tag=$IMAGE_TAG")
  first_args=("${chart_args[@]}")
  first_digest=""
fi
# Tracing is a value of this version of the chart (a previous release may not know it).
if [[ -n "$SMOKE_TRACING_ENDPOINT" ]]; then
  chart_args+=(--set tracing.enabled=true --set "tracing.endpoint=$SMOKE_TRACING_ENDPOINT")
fi

# ---------------------------------------------------------------------------------------------
step "server-side validation of every overlay"
for values in values-dev.yaml values-staging.yaml values-prod.yaml ci/all-on-values.yaml; do
  extra=()
  # The all-on example also turns on the PrometheusRule and the dashboard ConfigMap.
  [[ "$values" == ci/* ]] && extra=(--set prometheusRule.enabled=true --set grafanaDashboard.enabled=true)
  # --validate: rendered with the cluster's real capabilities (API versions, version), as
  # `helm install` renders (`--dry-run=server` alone keeps the client-only defaults).
  helm template "$RELEASE" "$CHART" --namespace "$NAMESPACE" --values "$CHART/$values" \
    "${extra[@]}" --validate >"$WORK/rendered.yaml"
  kinds="$(sed -n 's/^kind: //p' "$WORK/rendered.yaml" | sort | uniq -c | awk '{printf "%s%s", sep, $2; sep=","}')"
  case "$values" in
    values-staging.yaml | values-prod.yaml) want=ServiceMonitor ;;
    ci/*) want="PrometheusRule HTTPRoute NetworkPolicy" ;;
    *) want=Deployment ;;
  esac
  for kind in $want; do
    [[ ",$kinds," == *",$kind,"* ]] || fail "$values: no $kind rendered (got $kinds)"
  done
  if ! kc apply --dry-run=server --validate=strict -f "$WORK/rendered.yaml" \
    >"$WORK/dry-run.out" 2>&1; then
    cat "$WORK/dry-run.out" >&2
    fail "$values: the API server refused the rendered manifests"
  fi
  if grep -i 'warning' "$WORK/dry-run.out" >&2; then
    fail "$values: the API server warned about the rendered manifests"
  fi
  log "$values: accepted: $kinds"
done

# check_digest DIGEST: every pod of the release runs exactly the image DIGEST (its imageID,
# which the kubelet reports from the runtime), when one is given; prints the chart version.
check_digest() {
  [[ -n "$1" ]] || return 0
  local ids chart
  ids="$(kc get pods -l "$APP_SELECTOR" --field-selector=status.phase=Running \
    -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}{" "}{.status.containerStatuses[0].imageID}{"\n"}{end}' |
    awk 'NF == 1 {print $1}' | sort -u)"
  [[ "$ids" == *"@$1" && "$(grep -c . <<<"$ids")" == 1 ]] ||
    fail "pods run image(s) $(paste -sd' ' - <<<"$ids"), want @$1"
  chart="$(kc get "$deployment" -o jsonpath='{.metadata.labels.helm\.sh/chart}')"
  log "$chart: every pod runs $ids"
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
  prom_check targets --namespace "$NAMESPACE" --job "$job" --pods "$pods" "$@"
}

# ---------------------------------------------------------------------------------------------
step "helm install (dev overlay)${PREVIOUS_CHART_VERSION:+, release $PREVIOUS_CHART_VERSION}"
hm upgrade --install "$RELEASE" "${first_args[@]}" \
  --values "$CHART/values-dev.yaml" "${image_args[@]}" \
  --wait --timeout "$HELM_TIMEOUT"

deployment="$(kc get deployments -l "$SELECTOR" -o name)"
service="$(kc get services -l "$SELECTOR" -o name)"
[[ -n "$deployment" && -n "$service" ]] || fail "release $RELEASE has no deployment/service"
service_port="$(kc get "$service" -o jsonpath='{.spec.ports[?(@.name=="http")].port}')"
# The Prometheus Operator's job label: the Service name.
job="${service#service/}"
kc rollout status "$deployment" --timeout "$ROLLOUT_TIMEOUT"
check_digest "$first_digest"
prom_targets

step "helm test"
# Not `helm test --logs`: the test pod's hook-delete-policy removes it when it succeeds, before
# Helm would read its logs, and Helm then fails a passed test. A failed test pod is kept (no
# hook-failed policy), so its output is shown here.
if ! hm test "$RELEASE" --timeout "$HELM_TIMEOUT"; then
  kc logs -l "$SELECTOR,app.kubernetes.io/component=helm-test" --all-containers --prefix >&2 || true
  fail "helm test failed"
fi

# ---------------------------------------------------------------------------------------------
step "endpoints through kubectl port-forward ($service)"
port_forward "$NAMESPACE" "$service" "$service_port" app
PF_PID="$FORWARD_PID"
base="http://127.0.0.1:$FORWARD_PORT"

# check PATH STATUS NEEDLE: GET PATH, expect STATUS and NEEDLE in the body.
check() {
  local path="$1" want_status="$2" needle="$3" status
  status="$(curl --silent --show-error --max-time 10 --output "$WORK/body" \
    --write-out '%{http_code}' "$base$path")" || fail "GET $path: curl failed"
  [[ "$status" == "$want_status" ]] || fail "GET $path: status $status, want $want_status: $(head -c 500 "$WORK/body")"
  grep -q -- "$needle" "$WORK/body" || fail "GET $path: '$needle' not in body: $(head -c 500 "$WORK/body")"
  log "GET $path -> $status"
}
check /health 200 '"status":"ok"'
check /readiness 200 '"status":"ready"'
check / 200 '"env":"development"'
check /items/42 200 '"item_id":42'
check /items/abc 422 'item_id'
check /openapi.json 200 '"openapi"'
check /docs 200 'swagger'
check /metrics 200 'http_requests_total{'
check /metrics 200 'app_info{'
check /no-such-path 404 'Not Found'
kill "$PF_PID" 2>/dev/null || true
wait "$PF_PID" 2>/dev/null || true
PF_PID=""

# ---------------------------------------------------------------------------------------------
# Load: a client pod inside the cluster sends requests to the Service. The service's own
# image: already on the nodes, and Python's urllib is enough. Each request opens a new
# connection, so kube-proxy routes it to a currently ready pod. The loop ends when /tmp/stop
# appears or after LOAD_MAX_SECONDS, and prints one summary line.
# By the Service's ClusterIP: the load measures the rollout, not the cluster's DNS (which the
# helm test pod and the readiness dependency use by name).
service_url="http://$(kc get "$service" -o jsonpath='{.spec.clusterIP}'):$service_port/items/1"
image_ref="$IMAGE_REPOSITORY:$IMAGE_TAG"
[[ -n "$IMAGE_DIGEST" ]] && image_ref="$IMAGE_REPOSITORY@$IMAGE_DIGEST"

# The smoke test's own pods (load clients, the dependency) meet Pod Security "restricted" too.
POD_SECURITY='{runAsNonRoot: true, runAsUser: 1001, runAsGroup: 1001, seccompProfile: {type: RuntimeDefault}}'
CONTAINER_SECURITY='{allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}'

# start_client NAME: starts the client pod NAME and waits until it has sent a request.
start_client() {
  local name="$RELEASE-$1"
  kc delete pod "$name" --ignore-not-found --wait=true >/dev/null
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $name
  labels:
    app.kubernetes.io/part-of: $RELEASE-smoke
    app.kubernetes.io/component: smoke-client
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext: $POD_SECURITY
  containers:
    - name: client
      image: $image_ref
      imagePullPolicy: $IMAGE_PULL_POLICY
      env:
        - {name: URL, value: "$service_url"}
        - {name: MAX_SECONDS, value: "$LOAD_MAX_SECONDS"}
        - {name: INTERVAL, value: "$LOAD_INTERVAL"}
      command:
        - python
        - -c
        - |
          import os, time, urllib.request
          url = os.environ["URL"]
          deadline = time.monotonic() + float(os.environ["MAX_SECONDS"])
          interval = float(os.environ["INTERVAL"])
          ok = failed = 0
          while time.monotonic() < deadline and not os.path.exists("/tmp/stop"):
              try:
                  with urllib.request.urlopen(url, timeout=5) as resp:
                      resp.read()
                      ok += resp.status == 200
                      failed += resp.status != 200
              except Exception as exc:
                  failed += 1
                  print(f"request failed: {exc!r}", flush=True)
              if ok + failed == 1:
                  print("started", flush=True)
              time.sleep(interval)
          print(f"requests={ok + failed} failed={failed}", flush=True)
      resources:
        requests: {cpu: 50m, memory: 32Mi}
        limits: {cpu: 500m, memory: 96Mi}
      securityContext: $CONTAINER_SECURITY
      volumeMounts:
        - {name: tmp, mountPath: /tmp}
  volumes:
    - name: tmp
      emptyDir: {sizeLimit: 1Mi}
EOF
  kc wait --for=condition=Ready "pod/$name" --timeout="${WAIT_SECONDS}s" >/dev/null
  client_started() { kc logs "$name" 2>/dev/null | grep -q '^started'; }
  until_true 60 "client pod $name to send a request" client_started
}

# stop_client NAME WHAT: stops the client, fails when any request failed, logs the counts.
stop_client() {
  local name="$RELEASE-$1" what="$2" summary
  kc exec "$name" -- python -c 'open("/tmp/stop", "w").close()'
  kc wait --for=jsonpath='{.status.phase}'=Succeeded "pod/$name" --timeout=60s >/dev/null
  kc logs "$name" >"$WORK/$1.log"
  summary="$(grep '^requests=' "$WORK/$1.log" || true)"
  [[ -n "$summary" ]] || { cat "$WORK/$1.log" >&2; fail "client pod $name printed no summary"; }
  if [[ "$summary" != *" failed=0" ]]; then
    grep 'request failed' "$WORK/$1.log" | head -n 20 >&2
    fail "requests failed $what ($summary)"
  fi
  log "$what: $summary"
  printf 'load %s: %s\n' "$what" "$summary"
  kc delete pod "$name" --wait=false >/dev/null
}

# settled: the rollout is complete and no pod of the release is terminating any more (old
# pods finish their drain after the rollout reports success).
settled() {
  local terminating
  terminating="$(kc get pods -l "$APP_SELECTOR" \
    -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}{"\n"}{end}' | grep -c . || true)"
  ((terminating == 0)) && kc rollout status "$deployment" --timeout=1s >/dev/null 2>&1
}

app_env() {
  kc get "$deployment" \
    -o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="APP_ENV")].value}'
}

# ---------------------------------------------------------------------------------------------
step "helm upgrade to staging, then prod, under load"
start_client rollout-client
hm upgrade "$RELEASE" "${chart_args[@]}" \
  --values "$CHART/values-staging.yaml" "${image_args[@]}" \
  --wait --timeout "$HELM_TIMEOUT"
[[ "$(app_env)" == staging ]] || fail "after the upgrade APP_ENV is '$(app_env)', want staging"
until_true "$WAIT_SECONDS" "the staging rollout to settle" settled
check_digest "$IMAGE_DIGEST"
prom_targets
hm upgrade "$RELEASE" "${chart_args[@]}" \
  --values "$CHART/values-prod.yaml" "${image_args[@]}" \
  --wait --timeout "$HELM_TIMEOUT"
[[ "$(app_env)" == production ]] || fail "after the upgrade APP_ENV is '$(app_env)', want production"
kc rollout status "$deployment" --timeout "$ROLLOUT_TIMEOUT"
until_true "$WAIT_SECONDS" "the old pods to finish terminating" settled
sleep 3
stop_client rollout-client "during the upgrades dev -> staging -> prod${PREVIOUS_CHART_VERSION:+ (release $PREVIOUS_CHART_VERSION -> $CHART_VERSION)}"
prom_targets

if [[ -n "$SMOKE_TRACING_ENDPOINT" ]]; then
  step "a traced request through the Service reaches the collector"
  port_forward "$NAMESPACE" "$service" "$service_port" traced
  PF_PID="$FORWARD_PID"
  trace_id="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  parent_id="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  status="$(curl --silent --max-time 10 --output /dev/null --write-out '%{http_code}' \
    -H "traceparent: 00-$trace_id-$parent_id-01" "http://127.0.0.1:$FORWARD_PORT/items/7")"
  [[ "$status" == 200 ]] || fail "traced GET /items/7: status $status"
  kill "$PF_PID" 2>/dev/null || true
  wait "$PF_PID" 2>/dev/null || true
  PF_PID=""
  # The server span of that request: the caller's trace id and parent, the route template.
  span_arrived() {
    python3 - "$SMOKE_TRACING_SPANS" "$trace_id" "$parent_id" <<'PY'
import json, sys
path, trace_id, parent_id = sys.argv[1:]
try:
    lines = open(path, encoding="utf-8").read().splitlines()
except FileNotFoundError:
    sys.exit(1)
for line in lines:
    for resource in json.loads(line).get("resourceSpans", []):
        attrs = {a["key"]: a["value"] for a in resource["resource"].get("attributes", [])}
        for scope in resource.get("scopeSpans", []):
            for span in scope.get("spans", []):
                if span["traceId"] == trace_id and span.get("parentSpanId") == parent_id:
                    pod = attrs.get("k8s.pod.name", {}).get("stringValue")
                    print(f"span {span['name']!r} of trace {trace_id} from pod {pod}")
                    sys.exit(0 if span["name"] == "GET /items/{item_id}" and pod else 2)
sys.exit(1)
PY
  }
  until_true "$WAIT_SECONDS" "the span of trace $trace_id in $SMOKE_TRACING_SPANS" span_arrived >/dev/null
  log "tracing: $(span_arrived)"
fi

if [[ "$SMOKE_MONITORING" == 1 ]]; then
  step "Prometheus: series, dashboard and rule queries, rules loaded"
  prom_check series --namespace "$NAMESPACE" --job "$job" --endpoint '/items/{item_id}'
  kc get prometheusrules -l "$SELECTOR" -o jsonpath='{.items[0]}' >"$WORK/prometheusrule.json"
  prom_check queries --namespace "$NAMESPACE" --job "$job" \
    --dashboard "$CHART/dashboards/production-api.json" --rules "$WORK/prometheusrule.json"
fi

# ---------------------------------------------------------------------------------------------
step "a pod deleted under load"
start_client delete-client
victim="$(kc get pods -l "$APP_SELECTOR" -o jsonpath='{.items[0].metadata.name}')"
kc delete pod "$victim" --wait=false >/dev/null
log "deleted $victim"
gone() { ! kc get pod "$victim" >/dev/null 2>&1; }
until_true "$WAIT_SECONDS" "pod $victim to terminate" gone
until_true "$WAIT_SECONDS" "the replacement pod" settled
sleep 3
stop_client delete-client "while pod $victim was deleted"

if [[ "$SMOKE_MONITORING" == 1 ]]; then
  step "an alert fires for a real cause and resolves: the Deployment scaled to 0 and back"
  replicas="$(kc get "$deployment" -o jsonpath='{.spec.replicas}')"
  prom_check alert --name ProductionApiTargetMissing --state inactive
  kc scale "$deployment" --replicas 0 >/dev/null
  prom_check alert --name ProductionApiTargetMissing --state firing
  kc scale "$deployment" --replicas "$replicas" >/dev/null
  kc rollout status "$deployment" --timeout "$ROLLOUT_TIMEOUT"
  prom_check alert --name ProductionApiTargetMissing --state inactive
  prom_targets
fi

# ---------------------------------------------------------------------------------------------
step "helm rollback to the previous revision"
hm rollback "$RELEASE" --wait --timeout "$HELM_TIMEOUT"
kc rollout status "$deployment" --timeout "$ROLLOUT_TIMEOUT"
[[ "$(app_env)" == staging ]] || fail "after rollback APP_ENV is '$(app_env)', want staging"
hm history "$RELEASE" --max 5 >&2

# ---------------------------------------------------------------------------------------------
step "readiness follows a dependency (real kubelet probes)"
# dep_pod: a pod serving /health for the dependency Service (the service's own image).
dep_pod() {
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $DEP
  labels:
    app.kubernetes.io/part-of: $RELEASE-smoke
    app.kubernetes.io/component: smoke-dependency
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 5
  securityContext: $POD_SECURITY
  containers:
    - name: dependency
      image: $image_ref
      imagePullPolicy: $IMAGE_PULL_POLICY
      env:
        - {name: SHUTDOWN_DRAIN_SECONDS, value: "0"}
      ports:
        - {name: http, containerPort: 8080}
      readinessProbe:
        httpGet: {path: /health, port: http}
        periodSeconds: 1
      resources:
        requests: {cpu: 50m, memory: 64Mi}
        limits: {cpu: 500m, memory: 128Mi}
      securityContext: $CONTAINER_SECURITY
EOF
  kc wait --for=condition=Ready "pod/$DEP" --timeout="${WAIT_SECONDS}s" >/dev/null
}
kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata:
  name: $DEP
  labels:
    app.kubernetes.io/part-of: $RELEASE-smoke
spec:
  selector:
    app.kubernetes.io/component: smoke-dependency
  ports:
    - {name: http, port: 8080, targetPort: http}
EOF
dep_pod
hm upgrade "$RELEASE" "${chart_args[@]}" --reuse-values \
  --set "config.readiness.dependencies[0]=http://$DEP:8080/health" \
  --set probes.readiness.periodSeconds=1 --set probes.readiness.failureThreshold=1 \
  --wait --timeout "$HELM_TIMEOUT"
until_true "$WAIT_SECONDS" "the rollout with the dependency" settled

# ready_endpoints: how many of the Service's endpoints are ready.
ready_endpoints() {
  kc get endpointslices -l "kubernetes.io/service-name=${service#service/}" \
    -o jsonpath='{range .items[*].endpoints[*]}{.conditions.ready}{"\n"}{end}' | grep -c '^true$' || true
}
replicas="$(kc get "$deployment" -o jsonpath='{.spec.replicas}')"
[[ "$(ready_endpoints)" == "$replicas" ]] ||
  fail "with the dependency up, $(ready_endpoints) of $replicas endpoints are ready"

kc delete pod "$DEP" --wait=true >/dev/null
log "dependency down"
none_ready() { [[ "$(ready_endpoints)" == 0 ]]; }
until_true "$WAIT_SECONDS" "every pod to leave the endpoints" none_ready
not_ready_pods="$(kc get pods -l "$APP_SELECTOR" \
  -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '^False$' || true)"
[[ "$not_ready_pods" == "$replicas" ]] || fail "$not_ready_pods of $replicas pods are NotReady"
log "dependency down: $not_ready_pods pods NotReady, 0 ready endpoints"

dep_pod
log "dependency back"
all_ready() { [[ "$(ready_endpoints)" == "$replicas" ]]; }
until_true "$WAIT_SECONDS" "every pod to rejoin the endpoints" all_ready
log "dependency back: $replicas ready endpoints"
kc delete pods,services -l "$HELPER_SELECTOR" --wait=true >/dev/null

# ---------------------------------------------------------------------------------------------
step "helm uninstall leaves nothing behind"
hm uninstall "$RELEASE" --wait --timeout "$HELM_TIMEOUT"
# Pods and EndpointSlices go after their owners, through the garbage collector: wait for it.
resources="$(kubectl api-resources --verbs=list --namespaced -o name | grep -v '^events' | paste -sd, -)"
left() { kc get "$resources" -l "$SELECTOR" -o name 2>/dev/null; }
nothing_left() { [[ -z "$(left)" ]]; }
if ! wait_until "$WAIT_SECONDS" nothing_left; then
  fail "objects of $RELEASE left after uninstall: $(left | paste -sd' ' -)"
fi
[[ -z "$(kc get secrets -l "owner=helm,name=$RELEASE" -o name)" ]] ||
  fail "Helm's release records are left after uninstall"

# ---------------------------------------------------------------------------------------------
if [[ "$KEEP" == 1 ]]; then
  step "the release installed again to be kept (prod overlay)"
  hm install "$RELEASE" "${chart_args[@]}" \
    --values "$CHART/values-prod.yaml" "${image_args[@]}" \
    --wait --timeout "$HELM_TIMEOUT"
  kc rollout status "$deployment" --timeout "$ROLLOUT_TIMEOUT"
  check_digest "$IMAGE_DIGEST"
  # The uninstalled release's pods were never marked stale (its ServiceMonitor went with it).
  prom_targets --recent 30
  log "kept: release $RELEASE in namespace $NAMESPACE, $(kc get "$deployment" -o jsonpath='{.status.readyReplicas}') pods ready"
fi

step "done"
log "smoke test passed"
