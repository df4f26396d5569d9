# shellcheck shell=bash
# The cluster the current kube context points at: its versions, for the log.
kubectl version >&2
