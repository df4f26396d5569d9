# shellcheck shell=bash
# One request with a known traceparent through the Service: the collector at
# SMOKE_TRACING_ENDPOINT must write its server span (the caller's trace id and parent, the
# route template, from a pod) to SMOKE_TRACING_SPANS (ci/smoke/span_arrived.py reads it).
forward_to_service traced
trace_id="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
parent_id="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
status="$(curl --silent --max-time 10 --output /dev/null --write-out '%{http_code}' \
  -H "traceparent: 00-$trace_id-$parent_id-01" "http://127.0.0.1:$FORWARD_PORT/items/7")"
[[ "$status" == 200 ]] || fail "traced GET /items/7: status $status"
stop_forward
span_arrived() { python3 "$SMOKE_DIR/span_arrived.py" "$SMOKE_TRACING_SPANS" "$trace_id" "$parent_id"; }
until_true "$WAIT_SECONDS" "the span of trace $trace_id in $SMOKE_TRACING_SPANS" span_arrived >/dev/null
log "tracing: $(span_arrived)"
