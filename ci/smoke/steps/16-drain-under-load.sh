# shellcheck shell=bash
# `kubectl drain` of a node that runs pods of the release, while a client sends requests: none
# fails; the PodDisruptionBudget holds (the Service's ready endpoints, sampled through the
# drain, never fall below its minAvailable); the evicted pods are replaced on the other nodes
# and Ready. Then the node is uncordoned.
if single_node "a drain"; then return 0; fi
victim="$(victim_node)"
min_available="$(kc get pdb -l "$SELECTOR" -o jsonpath='{.items[0].spec.minAvailable}')"
[[ "$min_available" =~ ^[0-9]+$ ]] ||
  fail "the release's PodDisruptionBudget has no integer minAvailable ('$min_available')"
on_victim="$(release_nodes | grep -cFx "$victim" || true)"

start_client drain-client
samples="$WORK/drain-endpoints"
(
  set +e
  trap - ERR
  while [[ ! -e "$samples.stop" ]]; do
    ready_endpoints >>"$samples"
    sleep 0.3
  done
) &
sampler=$!
started=$SECONDS
kubectl drain "$victim" --ignore-daemonsets --delete-emptydir-data \
  --timeout="${WAIT_SECONDS}s" >&2
drain_seconds=$((SECONDS - started))
until_true "$WAIT_SECONDS" "the evicted pods' replacements to be Ready" settled
touch "$samples.stop"
wait "$sampler"
left="$(release_nodes | grep -cFx "$victim" || true)"
kubectl uncordon "$victim" >/dev/null
((left == 0)) || fail "$left pods of the release still run on the drained node $victim"
sleep 3
stop_client drain-client "during the drain of $victim"

lowest="$(sort -n "$samples" | head -n1)"
((lowest >= min_available)) ||
  fail "ready endpoints fell to $lowest during the drain; the PodDisruptionBudget's minAvailable is $min_available"
log "drain of $victim ($on_victim pods): ${drain_seconds}s; ready endpoints never below $lowest in $(grep -c . "$samples") samples (minAvailable $min_available); pods now on $(release_nodes | sort -u | paste -sd, -)"
