# shellcheck shell=bash
# A node lost: a worker that runs pods of the release stops hard (SMOKE_NODE_CONTROL: its
# kubelet and containerd killed, its link cut) while a client sends requests. Requests that
# kube-proxy sends to its pods fail until the node controller marks the node unreachable and
# takes its pods out of the endpoints; the prod overlay's tolerations (30 s) then have them
# replaced on the other nodes. Measured: when each happened after the stop, and the window in
# which requests failed. Then the node comes back and rejoins.
if single_node "losing a node"; then return 0; fi
if [[ -z "$SMOKE_NODE_CONTROL" ]]; then
  log "skipped: SMOKE_NODE_CONTROL is not set (no way to stop a node of this cluster)"
  return 0
fi
victim="$(victim_node)"
on_victim="$(release_nodes | grep -cFx "$victim" || true)"
tolerated="$(kc get pods -l "$APP_SELECTOR" -o jsonpath='{.items[0].spec.tolerations[?(@.key=="node.kubernetes.io/unreachable")].tolerationSeconds}')"

node_not_ready() {
  [[ "$(kubectl get node "$victim" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" != True ]]
}
# victim_endpoints: ready endpoints of the Service on the lost node.
victim_endpoints() {
  kc get endpointslices -l "kubernetes.io/service-name=${SERVICE#service/}" \
    -o jsonpath='{range .items[*].endpoints[*]}{.nodeName} {.conditions.ready}{"\n"}{end}' |
    grep -c "^$victim true$" || true
}
out_of_endpoints() { [[ "$(victim_endpoints)" == 0 ]]; }
# replaced: as many Ready pods off the lost node as the Deployment wants.
replaced() {
  local want ready
  want="$(kc get "$DEPLOYMENT" -o jsonpath='{.spec.replicas}')"
  ready="$(kc get pods -l "$APP_SELECTOR" \
    -o jsonpath='{range .items[*]}{.spec.nodeName} {.metadata.deletionTimestamp} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
    awk -v lost="$victim" 'NF == 2 && $1 != lost && $2 == "True"' | grep -c . || true)"
  ((ready >= want))
}

start_client lost-client
stopped_at="$(date +%s.%N)"
started=$SECONDS
"$SMOKE_NODE_CONTROL" stop "$victim"
until_true 180 "node $victim to be NotReady" node_not_ready
not_ready_after=$((SECONDS - started))
until_true 60 "the pods of $victim to leave the Service's endpoints" out_of_endpoints
out_after=$((SECONDS - started))
until_true 300 "replacement pods Ready on the other nodes" replaced
replaced_after=$((SECONDS - started))
sleep 3
stop_client lost-client "while node $victim was lost" --failures-expected
if [[ "$FAILURES_FROM" == - ]]; then
  window="no request failed"
else
  window="$(awk -v s="$stopped_at" -v a="$FAILURES_FROM" -v b="$FAILURES_TO" \
    'BEGIN {printf "requests failed from %.0fs to %.0fs after the stop", a - s, b - s}')"
fi

"$SMOKE_NODE_CONTROL" start "$victim"
until_true "$WAIT_SECONDS" "the lost node's old pods to be removed" settled
log "node lost: $victim ($on_victim pods) stopped; NotReady after ${not_ready_after}s, its pods out of the endpoints after ${out_after}s, replacements Ready after ${replaced_after}s (tolerationSeconds ${tolerated:-default}); $window ($CLIENT_SUMMARY); the node rejoined"
