"""The smoke test's load client (ci/smoke/manifests/load-client.yaml runs it in the app's image).

Sends GET URL every INTERVAL seconds, each on a new connection (so kube-proxy routes each
request to a currently ready pod), until /tmp/stop appears or MAX_SECONDS pass. URL may list
several URLs (space-separated), sent in turn; https:// ones are verified against CA_FILE when
it is set (the TLS edge's test CA), their host names and all. Prints
"started" after the first request, each failure, and at the end one summary line
"requests=N failed=M", then, when some failed, "failures from=T to=T": when the first and the
last failed request was sent (Unix time, the node's clock). Standard library only.
"""

import os
import ssl
import time
import urllib.request

urls = os.environ["URL"].split()  # http://<ClusterIP>:<port>/items/1, or https://<host>/...
ca_file = os.environ.get("CA_FILE", "")
context = ssl.create_default_context(cafile=ca_file) if ca_file else None
stop = "/tmp/stop"  # noqa: S108 (the pod's own emptyDir; `kubectl exec` creates it)
deadline = time.monotonic() + float(os.environ["MAX_SECONDS"])
interval = float(os.environ["INTERVAL"])
ok = failed = 0
failures: list[float] = []
while time.monotonic() < deadline and not os.path.exists(stop):
    sent = time.time()
    url = urls[(ok + failed) % len(urls)]
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as resp:  # noqa: S310 (URLs we set)
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
