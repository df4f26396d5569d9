"""The smoke test's load client (ci/smoke/manifests/load-client.yaml runs it in the app's image).

Sends GET URL every INTERVAL seconds, each on a new connection (so kube-proxy routes each
request to a currently ready pod), until /tmp/stop appears or MAX_SECONDS pass. Prints
"started" after the first request, each failure, and at the end one summary line
"requests=N failed=M", then, when some failed, "failures from=T to=T": when the first and the
last failed request was sent (Unix time, the node's clock). Standard library only.
"""

import os
import time
import urllib.request

url = os.environ["URL"]  # http://<ClusterIP>:<port>/items/1
stop = "/tmp/stop"  # noqa: S108 (the pod's own emptyDir; `kubectl exec` creates it)
deadline = time.monotonic() + float(os.environ["MAX_SECONDS"])
interval = float(os.environ["INTERVAL"])
ok = failed = 0
failures: list[float] = []
while time.monotonic() < deadline and not os.path.exists(stop):
    sent = time.time()
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (an http:// URL we set)
            resp.read()
            ok += resp.status == 200
            if resp.status != 200:
                failed += 1
                failures.append(sent)
    except Exception as exc:
        failed += 1
        failures.append(sent)
        print(f"request failed (sent at {sent:.1f}): {exc!r}", flush=True)
    if ok + failed == 1:
        print("started", flush=True)
    time.sleep(interval)
print(f"requests={ok + failed} failed={failed}", flush=True)
if failures:
    print(f"failures from={failures[0]:.1f} to={failures[-1]:.1f}", flush=True)
