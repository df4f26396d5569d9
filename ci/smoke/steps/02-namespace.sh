# shellcheck shell=bash
# The namespace, with Pod Security "restricted" enforced: the API server's PodSecurity
# admission must refuse a pod without the restricted settings.
manifest namespace NAMESPACE="$NAMESPACE" | kubectl apply -f - >/dev/null
if kc run pss-probe --image="$IMAGE_REPOSITORY:$IMAGE_TAG" --restart=Never \
  --dry-run=server >"$WORK/pss.out" 2>&1; then
  fail "namespace $NAMESPACE admitted a pod that violates Pod Security restricted"
fi
grep -q 'violates PodSecurity "restricted' "$WORK/pss.out" ||
  fail "unexpected refusal of the probe pod: $(cat "$WORK/pss.out")"
log "PodSecurity admission refuses a non-restricted pod"
