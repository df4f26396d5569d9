# shellcheck shell=bash
# The HorizontalPodAutoscaler on real numbers: it reads the pods' CPU and memory utilisation
# from metrics-server; two request loops make the pods busy and it scales out above
# minReplicas (new pods Ready, on more than one node); a `helm upgrade` meanwhile keeps its
# count; after the load stops it scales back to minReplicas. No request fails throughout.
if [[ "$(kubectl get apiservice v1beta1.metrics.k8s.io \
  -o jsonpath='{.status.conditions[?(@.type=="Available")].status}' 2>/dev/null)" != True ]]; then
  log "skipped: this cluster serves no resource metrics API (metrics.k8s.io: metrics-server)"
  return 0
fi
HPA="$(kc get hpa -l "$SELECTOR" -o name)"
[[ -n "$HPA" ]] || fail "the release has no HorizontalPodAutoscaler"
min="$(kc get "$HPA" -o jsonpath='{.spec.minReplicas}')"
cpu_target="$(kc get "$HPA" -o jsonpath='{.spec.metrics[?(@.resource.name=="cpu")].resource.target.averageUtilization}')"
memory_target="$(kc get "$HPA" -o jsonpath='{.spec.metrics[?(@.resource.name=="memory")].resource.target.averageUtilization}')"

# utilisation RESOURCE: the HPA's last reading (percent of requests), empty before the first.
utilisation() {
  kc get "$HPA" -o jsonpath="{.status.currentMetrics[?(@.resource.name==\"$1\")].resource.current.averageUtilization}"
}
reads_metrics() {
  [[ -n "$(utilisation cpu)" && -n "$(utilisation memory)" ]] &&
    [[ "$(kc get "$HPA" -o jsonpath='{.status.conditions[?(@.type=="ScalingActive")].status}')" == True ]]
}
replicas() { kc get "$DEPLOYMENT" -o jsonpath='{.spec.replicas}'; }
scaled_out() { (($(replicas) > min)); }
scaled_in() { (($(replicas) == min)) && settled; }
# rescaled: the reason the HPA gave for its first rescale (its event).
rescaled() {
  kc get events --field-selector reason=SuccessfulRescale \
    -o jsonpath='{range .items[*]}{.message}{"\n"}{end}' | head -n1
}

until_true 120 "the HPA to read CPU and memory from metrics-server" reads_metrics
idle_cpu="$(utilisation cpu)"
memory="$(utilisation memory)"
kc delete events --field-selector reason=SuccessfulRescale >/dev/null
start_client cpu-load-1 0
start_client cpu-load-2 0
# The HPA's CPU readings while the load runs (it updates them every 15 s).
samples="$WORK/hpa-cpu"
(
  set +e
  trap - ERR
  while [[ ! -e "$samples.stop" ]]; do
    utilisation cpu >>"$samples"
    echo >>"$samples"
    sleep 2
  done
) &
sampler=$!
started=$SECONDS
until_true 240 "the HPA to scale above $min pods" scaled_out
until_true "$WAIT_SECONDS" "the added pods to be Ready" settled
out_after=$((SECONDS - started))
reason="$(rescaled)"
[[ "$reason" == *"cpu resource utilization"*"above target"* ]] ||
  fail "the HPA's first rescale was not for CPU above target: '$reason'"
scaled_to="$(replicas)"
spread_over="$(release_nodes | sort -u | grep -c .)"
((${#NODES[@]} < 2 || spread_over >= 2)) || fail "the $scaled_to pods all run on one node"

# The chart renders the live count on upgrade (within min and max): Helm does not undo the
# HPA's scale-out.
hm upgrade "$RELEASE" "${CHART_ARGS[@]}" --reuse-values --wait --timeout "$HELM_TIMEOUT"
after_upgrade="$(replicas)"
((after_upgrade >= scaled_to)) ||
  fail "helm upgrade took the Deployment from the HPA's $scaled_to pods to $after_upgrade"

stop_client cpu-load-1 "while the HPA scaled out (1 of 2)"
stop_client cpu-load-2 "while the HPA scaled out (2 of 2)"
touch "$samples.stop"
wait "$sampler"
peak_cpu="$(grep . "$samples" | sort -n | tail -n1)"
stopped=$SECONDS
until_true 300 "the HPA to scale back to $min pods" scaled_in
in_after=$((SECONDS - stopped))
log "hpa: CPU ${idle_cpu}% idle (target ${cpu_target}%), memory ${memory}% (target ${memory_target}%); under load up to ${peak_cpu}%, \"${reason}\": ${min} -> ${scaled_to} pods on ${spread_over} nodes in ${out_after}s, still ${after_upgrade} after a helm upgrade; back to ${min} ${in_after}s after the load stopped"
