#!/usr/bin/env bash
# Smoke test of the chart and the image on whatever cluster the current kube context points at:
#   1. Prometheus Operator CRDs (pinned release) unless the cluster already has them;
#   2. `helm upgrade --install` with the dev overlay, --wait; `kubectl rollout status`;
#   3. `helm test`;
#   4. every endpoint through `kubectl port-forward`;
#   5. `helm upgrade` to the prod overlay while a client pod inside the cluster sends a bounded
#      stream of requests to the Service: a graceful rollout fails none of them;
#   6. `helm rollback` to the first revision.
# On failure: events, `describe` and logs of everything labelled app.kubernetes.io/instance.
# The release and (by default) its namespace are removed on exit.
#
# Environment (defaults in brackets):
#   RELEASE [production-api]  NAMESPACE [production-api-smoke]
#   CHART [charts/production-api]
#   IMAGE_REPOSITORY [production-api]  IMAGE_TAG [dev]  IMAGE_PULL_POLICY [IfNotPresent]
#   PROM_OPERATOR_VERSION [v0.80.1]    PROM_CRDS_URL [the release's stripped-down-crds.yaml]
#   HELM_TIMEOUT [5m]  ROLLOUT_TIMEOUT [300s]
#   LOAD_MAX_SECONDS [300]  request loop upper bound; it stops earlier once the rollout is done
#   LOAD_INTERVAL [0.05]    seconds between two requests of the loop
#   KEEP=1                  leave the release and namespace in place
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RELEASE="${RELEASE:-production-api}"
NAMESPACE="${NAMESPACE:-production-api-smoke}"
CHART="${CHART:-$REPO_ROOT/charts/production-api}"
IMAGE_REPOSITORY="${IMAGE_REPOSITORY:-production-api}"
IMAGE_TAG="${IMAGE_TAG:-dev}"
IMAGE_PULL_POLICY="${IMAGE_PULL_POLICY:-IfNotPresent}"
PROM_OPERATOR_VERSION="${PROM_OPERATOR_VERSION:-v0.80.1}"
PROM_CRDS_URL="${PROM_CRDS_URL:-https://github.com/prometheus-operator/prometheus-operator/releases/download/$PROM_OPERATOR_VERSION/stripped-down-crds.yaml}"
HELM_TIMEOUT="${HELM_TIMEOUT:-5m}"
ROLLOUT_TIMEOUT="${ROLLOUT_TIMEOUT:-300s}"
LOAD_MAX_SECONDS="${LOAD_MAX_SECONDS:-300}"
LOAD_INTERVAL="${LOAD_INTERVAL:-0.05}"
KEEP="${KEEP:-0}"

SELECTOR="app.kubernetes.io/instance=$RELEASE"
CLIENT_POD="$RELEASE-smoke-client"
WORK="$(mktemp -d)"
PF_PID=""
STEP="start"

kc() { kubectl --namespace "$NAMESPACE" "$@"; }
hm() { helm --namespace "$NAMESPACE" "$@"; }
step() {
  STEP="$*"
  log "$*"
}
fail() {
  printf 'smoke: FAIL: %s\n' "$*" >&2
  exit 1
}

dump_diagnostics() {
  echo "---------------- diagnostics ($SELECTOR in $NAMESPACE) ----------------" >&2
  {
    hm status "$RELEASE" || true
    hm history "$RELEASE" || true
    kc get all,pdb,hpa,endpointslices -l "$SELECTOR" -o wide || true
    kc get events --sort-by=.lastTimestamp || true
    kc describe deployments,replicasets,pods,services -l "$SELECTOR" || true
    kc logs -l "$SELECTOR" --all-containers --prefix --tail=200 || true
    kc logs -l "$SELECTOR" --all-containers --prefix --tail=100 --previous 2>/dev/null || true
  } >&2
}

cleanup() {
  local rc=$?
  set +e
  [[ -n "$PF_PID" ]] && kill "$PF_PID" 2>/dev/null
  if ((rc != 0)); then
    echo "smoke: failed during: $STEP" >&2
    dump_diagnostics
  fi
  if [[ "$KEEP" != 1 ]]; then
    log "cleanup: uninstall $RELEASE, delete namespace $NAMESPACE"
    kc delete pod "$CLIENT_POD" --ignore-not-found --wait=false >/dev/null 2>&1
    hm uninstall "$RELEASE" --wait --timeout 2m >/dev/null 2>&1
    kubectl delete namespace "$NAMESPACE" --ignore-not-found --wait=false >/dev/null 2>&1
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in kubectl helm curl; do
  command -v "$tool" >/dev/null || fail "$tool not found on PATH"
done
[[ -f "$CHART/Chart.yaml" ]] || fail "no chart at $CHART"

step "cluster: context $(kubectl config current-context)"
kubectl version >&2
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null

# ---------------------------------------------------------------------------------------------
step "Prometheus Operator CRDs"
if kubectl get crd servicemonitors.monitoring.coreos.com >/dev/null 2>&1; then
  log "ServiceMonitor CRD present; leaving the cluster's CRDs alone"
else
  log "installing CRDs from $PROM_CRDS_URL"
  kubectl apply --server-side -f "$PROM_CRDS_URL" >/dev/null
  kubectl wait --for=condition=Established --timeout=60s \
    crd/servicemonitors.monitoring.coreos.com
fi

image_args=(
  --set "image.repository=$IMAGE_REPOSITORY"
  --set "image.tag=$IMAGE_TAG"
  --set "image.pullPolicy=$IMAGE_PULL_POLICY"
)

# ---------------------------------------------------------------------------------------------
step "helm upgrade --install (dev overlay)"
hm upgrade --install "$RELEASE" "$CHART" \
  --values "$CHART/values-dev.yaml" "${image_args[@]}" \
  --wait --timeout "$HELM_TIMEOUT"

deployment="$(kc get deployments -l "$SELECTOR" -o name)"
service="$(kc get services -l "$SELECTOR" -o name)"
[[ -n "$deployment" && -n "$service" ]] || fail "release $RELEASE has no deployment/service"
service_port="$(kc get "$service" -o jsonpath='{.spec.ports[?(@.name=="http")].port}')"
kc rollout status "$deployment" --timeout "$ROLLOUT_TIMEOUT"

step "helm test"
hm test "$RELEASE" --logs --timeout "$HELM_TIMEOUT"

# ---------------------------------------------------------------------------------------------
step "endpoints through kubectl port-forward ($service)"
kc port-forward "$service" ":$service_port" >"$WORK/port-forward.log" 2>&1 &
PF_PID=$!
local_port=""
for _ in $(seq 1 50); do
  local_port="$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$WORK/port-forward.log" | head -n1)"
  [[ -n "$local_port" ]] && break
  kill -0 "$PF_PID" 2>/dev/null || { cat "$WORK/port-forward.log" >&2; fail "port-forward exited"; }
  sleep 0.2
done
[[ -n "$local_port" ]] || fail "port-forward did not report a local port"
base="http://127.0.0.1:$local_port"

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
check / 200 '"service"'
check /items/42 200 '42'
check /openapi.json 200 '"openapi"'
check /metrics 200 'http_requests_total{'
check /metrics 200 'app_info{'
check /no-such-path 404 'Not Found'
kill "$PF_PID" 2>/dev/null || true
wait "$PF_PID" 2>/dev/null || true
PF_PID=""

# ---------------------------------------------------------------------------------------------
step "client pod sending requests to $service inside the cluster"
# The service's own image: already on the nodes, and Python's urllib is enough. Each request
# opens a new connection, so kube-proxy routes it to a currently ready pod. The loop ends
# when /tmp/stop appears or after LOAD_MAX_SECONDS, and prints one summary line.
service_url="http://${service#service/}:$service_port/items/1"
image_ref="$IMAGE_REPOSITORY:$IMAGE_TAG"
kc delete pod "$CLIENT_POD" --ignore-not-found --wait=true >/dev/null
kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $CLIENT_POD
  labels:
    app.kubernetes.io/instance: $RELEASE
    app.kubernetes.io/component: smoke-client
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext:
    runAsNonRoot: true
    runAsUser: 1001
    runAsGroup: 1001
    seccompProfile: {type: RuntimeDefault}
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
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: {drop: [ALL]}
      volumeMounts:
        - {name: tmp, mountPath: /tmp}
  volumes:
    - name: tmp
      emptyDir: {sizeLimit: 1Mi}
EOF
kc wait --for=condition=Ready "pod/$CLIENT_POD" --timeout=120s >/dev/null
for _ in $(seq 1 60); do
  kc logs "$CLIENT_POD" 2>/dev/null | grep -q '^started' && break
  sleep 1
done
kc logs "$CLIENT_POD" | grep -q '^started' || fail "client pod sent no request"

step "helm upgrade to the prod overlay under load"
hm upgrade "$RELEASE" "$CHART" \
  --values "$CHART/values-prod.yaml" "${image_args[@]}" \
  --wait --timeout "$HELM_TIMEOUT"
kc rollout status "$deployment" --timeout "$ROLLOUT_TIMEOUT"
# Old pods finish their drain after the rollout reports success; keep sending meanwhile,
# until no pod of the release is terminating any more (bounded), then a few seconds more.
for _ in $(seq 1 120); do
  terminating="$(kc get pods -l "$SELECTOR,app.kubernetes.io/name" \
    -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}{"\n"}{end}' | grep -c . || true)"
  ((terminating == 0)) && break
  sleep 1
done
sleep 5

kc exec "$CLIENT_POD" -- python -c 'open("/tmp/stop", "w").close()'
kc wait --for=jsonpath='{.status.phase}'=Succeeded "pod/$CLIENT_POD" --timeout=60s >/dev/null
kc logs "$CLIENT_POD" >"$WORK/client.log"
summary="$(grep '^requests=' "$WORK/client.log" || true)"
[[ -n "$summary" ]] || { cat "$WORK/client.log" >&2; fail "client pod printed no summary"; }
log "rollout under load: $summary"
if [[ "$summary" != *" failed=0" ]]; then
  grep 'request failed' "$WORK/client.log" | head -n 20 >&2
  fail "requests failed during the rollout ($summary)"
fi
kc delete pod "$CLIENT_POD" --wait=false >/dev/null

# ---------------------------------------------------------------------------------------------
step "helm rollback to revision 1"
hm rollback "$RELEASE" 1 --wait --timeout "$HELM_TIMEOUT"
kc rollout status "$deployment" --timeout "$ROLLOUT_TIMEOUT"
app_env="$(kc get "$deployment" \
  -o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="APP_ENV")].value}')"
[[ "$app_env" == development ]] || fail "after rollback APP_ENV is '$app_env', want development"
hm history "$RELEASE" --max 5 >&2

step "done"
log "smoke test passed"
