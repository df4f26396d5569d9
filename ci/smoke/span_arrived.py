"""Has the collector received the server span of one traced request? (ci/smoke.sh's tracing step)

    python3 ci/smoke/span_arrived.py SPANS_FILE TRACE_ID PARENT_SPAN_ID

SPANS_FILE holds OTLP JSON lines (the collector's file exporter). Exit 0: the span of that
trace with that parent is there, named for the route template and from a pod (printed);
2: it is there but wrong (printed); 1: not (yet) there.
"""

import json
import sys

path, trace_id, parent_id = sys.argv[1:]
try:
    with open(path, encoding="utf-8") as spans:
        lines = spans.read().splitlines()
except FileNotFoundError:
    sys.exit(1)
for line in lines:
    for resource in json.loads(line).get("resourceSpans", []):
        attrs = {a["key"]: a["value"] for a in resource["resource"].get("attributes", [])}
        for scope in resource.get("scopeSpans", []):
            for span in scope.get("spans", []):
                if span["traceId"] == trace_id and span.get("parentSpanId") == parent_id:
                    pod = attrs.get("k8s.pod.name", {}).get("stringValue")
                    print(f"span {span['name']!r} of trace {trace_id} from pod {pod}")
                    sys.exit(0 if span["name"] == "GET /items/{item_id}" and pod else 2)
sys.exit(1)
