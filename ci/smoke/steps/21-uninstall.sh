# shellcheck shell=bash
# `helm uninstall` leaves no object of the release behind, nor Helm's release records.
hm uninstall "$RELEASE" --wait --timeout "$HELM_TIMEOUT"
# Pods and EndpointSlices go after their owners, through the garbage collector: wait for it.
resources="$(kubectl api-resources --verbs=list --namespaced -o name | grep -v '^events' | paste -sd, -)"
left() { kc get "$resources" -l "$SELECTOR" -o name 2>/dev/null; }
nothing_left() { [[ -z "$(left)" ]]; }
if ! wait_until "$WAIT_SECONDS" nothing_left; then
  fail "objects of $RELEASE left after uninstall: $(left | paste -sd' ' -)"
fi
[[ -z "$(kc get secrets -l "owner=helm,name=$RELEASE" -o name)" ]] ||
  fail "Helm's release records are left after uninstall"
