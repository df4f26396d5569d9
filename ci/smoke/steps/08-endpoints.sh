# shellcheck shell=bash
# Every endpoint through `kubectl port-forward` to the Service.
forward_to_service app
base="http://127.0.0.1:$FORWARD_PORT"

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
check / 200 '"env":"development"'
check /items/42 200 '"item_id":42'
check /items/abc 422 'item_id'
check /openapi.json 200 '"openapi"'
check /docs 200 'swagger'
check /metrics 200 'http_requests_total{'
check /metrics 200 'app_info{'
check /no-such-path 404 'Not Found'
stop_forward
