# shellcheck shell=bash
# A pod deleted while a client pod sends requests: no request fails (preStop, drain, grace).
start_client delete-client
victim="$(kc get pods -l "$APP_SELECTOR" -o jsonpath='{.items[0].metadata.name}')"
kc delete pod "$victim" --wait=false >/dev/null
log "deleted $victim"
gone() { ! kc get pod "$victim" >/dev/null 2>&1; }
until_true "$WAIT_SECONDS" "pod $victim to terminate" gone
until_true "$WAIT_SECONDS" "the replacement pod" settled
sleep 3
stop_client delete-client "while pod $victim was deleted"
