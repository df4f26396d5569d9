# shellcheck shell=bash
# `helm rollback` restores the previous revision's environment (staging).
hm rollback "$RELEASE" --wait --timeout "$HELM_TIMEOUT"
kc rollout status "$DEPLOYMENT" --timeout "$ROLLOUT_TIMEOUT"
[[ "$(app_env)" == staging ]] || fail "after rollback APP_ENV is '$(app_env)', want staging"
hm history "$RELEASE" --max 5 >&2
