# shellcheck shell=bash
# `kubectl rollout restart` while a client sends requests: every pod is replaced, across the
# nodes (the drained one takes pods again), and no request fails.
start_client restart-client
kc rollout restart "$DEPLOYMENT" >/dev/null
kc rollout status "$DEPLOYMENT" --timeout "$ROLLOUT_TIMEOUT" >&2
until_true "$WAIT_SECONDS" "the old pods to finish terminating" settled
sleep 3
stop_client restart-client "during a rollout restart"
log "after the restart: pods on $(release_nodes | sort | uniq -c | awk '{printf "%s%s: %s", sep, $2, $1; sep = ", "}')"
