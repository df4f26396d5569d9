# shellcheck shell=bash
# `helm test`: the chart's test pod. Not `helm test --logs`: the test pod's hook-delete-policy
# removes it when it succeeds, before Helm would read its logs, and Helm then fails a passed
# test. A failed test pod is kept (no hook-failed policy), so its output is shown here.
if ! hm test "$RELEASE" --timeout "$HELM_TIMEOUT"; then
  kc logs -l "$SELECTOR,app.kubernetes.io/component=helm-test" --all-containers --prefix >&2 || true
  fail "helm test failed"
fi
