# shellcheck shell=bash disable=SC2154  # trace_id, parent_id: the traced request of step 10
# A request's log line found from its trace, and the trace from its log line, in the log store
# (SMOKE_LOGS_URL: a VictoriaLogs fed by a log agent on every node, which reads the pods' log
# files): the access line of the traced request (step 10) is found by its trace id, with the
# app's JSON fields as fields of their own (level, method, path, route, status, duration_ms,
# request_id, the server span's span_id) and the pod's name and namespace taken from its log
# file's path; a query by its request id returns exactly that one access line, with the trace id.
if no_log_store "finding a request's log line by its trace id"; then return 0; fi
if [[ -z "${trace_id:-}" ]]; then
  log "skipped: no traced request (SMOKE_TRACING_ENDPOINT is not set: no line carries a trace id)"
  return 0
fi
logs_check "the access line of trace $trace_id" traced "$trace_id" "$parent_id" /items/7 '/items/{item_id}'
traced_request_id="$(sed -n 's/.* request_id=\([^ ]*\) .*/\1/p' <<<"$LOGS_CHECKED")"
logs_check "one access line for request id $traced_request_id" request "$traced_request_id" "$trace_id"
