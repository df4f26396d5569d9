# shellcheck shell=bash
# Lines the container runtime splits, and tracebacks, arrive whole in the log store
# (SMOKE_LOGS_URL). containerd writes a line over 16 KiB as partial (P) parts and a final (F)
# one; the agent joins them. The app writes such a line for real: its access line names the
# client a trusted proxy gives in X-Forwarded-For, whole, and a port-forward arrives from
# 127.0.0.1 (FORWARDED_ALLOW_IPS' default), so a 20,000-byte X-Forwarded-For makes a 20 KiB
# line; it must be one record. An error's traceback is written inside one JSON line: the
# deployed service has no route that fails on purpose, so a pod in the app's image logs an
# exception raised three calls deep through the app's own logging (ci/smoke/error_line.py, the
# call the request middleware makes for an unhandled exception); its one line must be one
# record with the whole traceback, and no other record of that pod.
if no_log_store "a split line and a traceback arriving whole"; then return 0; fi
forward_to_service long-line
long_request_id="smoke-long-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
long_client="$(head -c 20000 /dev/zero | tr '\0' a)"
status="$(curl --silent --max-time 10 --output /dev/null --write-out '%{http_code}' \
  -H "X-Request-ID: $long_request_id" -H "X-Forwarded-For: $long_client" \
  "http://127.0.0.1:$FORWARD_PORT/items/1")"
[[ "$status" == 200 ]] || fail "GET /items/1 with a 20,000-byte X-Forwarded-For: status $status"
stop_forward
logs_check "the 20 KiB access line of request id $long_request_id" long-line "$long_request_id" 20000

writer="$RELEASE-smoke-traceback"
marker="smoke-traceback-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
kc create configmap "$RELEASE-smoke-error-line" --dry-run=client -o yaml \
  --from-file=error_line.py="$SMOKE_DIR/error_line.py" |
  kubectl label --local -f - -o yaml "$HELPER_SELECTOR" | kc apply -f - >/dev/null
manifest error-line NAME="$writer" RELEASE="$RELEASE" IMAGE="$IMAGE_REF" \
  IMAGE_PULL_POLICY="$IMAGE_PULL_POLICY" MARKER="$marker" NODE_SELECTOR="$NODE_SELECTOR" |
  kc apply -f - >/dev/null
kc wait --for=jsonpath='{.status.phase}'=Succeeded "pod/$writer" --timeout="${WAIT_SECONDS}s" >/dev/null
logs_check "the traceback of pod $writer" traceback "$writer" "$marker" 1
kc delete pod "$writer" --wait=false >/dev/null
