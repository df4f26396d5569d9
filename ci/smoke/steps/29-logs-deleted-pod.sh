# shellcheck shell=bash disable=SC2154  # victim, delete_from, delete_client_ip: step 12's
# The lines of a pod deleted under load are all in the log store (SMOKE_LOGS_URL), though the
# kubelet removes its log files once it is gone: for the load of step 12, one access line per
# response the client received (counted by the client's address since the step began), the
# deleted pod's among them, and the deleted pod's last line (uvicorn's "Finished server
# process", written after its drain) too. Both counts are printed.
if no_log_store "counting the lines of a pod deleted under load"; then return 0; fi
received="$(sed -n 's/^requests=\([0-9]*\) .*/\1/p' <<<"$CLIENT_SUMMARY")"
[[ -n "$received" && -n "${delete_client_ip:-}" ]] || fail "step 12 left no client summary or address"
logs_check "the access lines of the load while pod $victim was deleted" \
  window "$delete_client_ip" "$delete_from" "$received" "$victim"
