# shellcheck shell=bash disable=SC2034  # delete_from, delete_client_ip: for step 29
# A pod deleted while a client pod sends requests: no request fails (preStop, drain, grace).
# The client's address and when it started are kept for the log store's count (step 29); the
# pod is deleted after 3 s of load, so that it has served a share of it.
delete_from="$(date +%s)"
start_client delete-client
delete_client_ip="$(kc get pod "$RELEASE-delete-client" -o jsonpath='{.status.podIP}')"
sleep 3
victim="$(kc get pods -l "$APP_SELECTOR" -o jsonpath='{.items[0].metadata.name}')"
kc delete pod "$victim" --wait=false >/dev/null
log "deleted $victim"
gone() { ! kc get pod "$victim" >/dev/null 2>&1; }
until_true "$WAIT_SECONDS" "pod $victim to terminate" gone
until_true "$WAIT_SECONDS" "the replacement pod" settled
sleep 3
stop_client delete-client "while pod $victim was deleted"
