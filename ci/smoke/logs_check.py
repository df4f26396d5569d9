"""Checks of the log store (VictoriaLogs' LogsQL API) for ci/smoke.sh's log steps (27-29).

    python3 ci/smoke/logs_check.py URL NAMESPACE CHECK ARGS...

    traced TRACE_ID PARENT_ID PATH    the access line of the traced request, found by its trace id
    request REQUEST_ID TRACE_ID       a query by request id: exactly one access line, of that trace
    long-line REQUEST_ID MIN_BYTES    that request's access line, longer than MIN_BYTES: one record
    traceback POD MARKER LINES        the pod wrote LINES lines, one an error with a traceback
    window CLIENT_IP FROM REQUESTS VICTIM  the access lines of a load client's requests since FROM
                                      (Unix time): one per response it received, the deleted
                                      pod's among them, and the deleted pod's last line

Every check looks at the records of NAMESPACE only. Exit 0: as expected (one line printed);
1: not (yet) there (the store shows a record a second or so after the agent sent it); 2:
there but wrong (printed). Standard library only.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.parse
import urllib.request
from typing import Any

ACCESS = "app.access"
HEX32 = re.compile(r"[0-9a-f]{32}")
HEX16 = re.compile(r"[0-9a-f]{16}")


class Wrong(Exception):
    """The records are there but not what the check expects (exit 2)."""


class NotYet(Exception):
    """The records are not (all) there yet (exit 1)."""


def quoted(value: str) -> str:
    return json.dumps(value)


def query(url: str, logsql: str, start: str | None = None) -> list[dict[str, Any]]:
    """The records LOGSQL selects, as VictoriaLogs returns them (every field a string)."""
    form = {"query": logsql}
    if start is not None:
        form["start"] = start
    body = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(f"{url}/select/logsql/query", data=body)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        text = response.read().decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def where(namespace: str, *filters: str) -> str:
    return " AND ".join([f"k8s.namespace.name:={quoted(namespace)}", *filters])


def describe(record: dict[str, Any]) -> str:
    return (
        f"{record.get('_msg')!r} from pod {record.get('k8s.pod.name')} "
        f"(namespace {record.get('k8s.namespace.name')}, node {record.get('k8s.node.name')})"
    )


def one_access_line(url: str, namespace: str, field: str, value: str) -> dict[str, Any]:
    records = query(url, where(namespace, f"{field}:={quoted(value)}", f"logger:={quoted(ACCESS)}"))
    if not records:
        raise NotYet(f"no access line with {field} {value}")
    if len(records) > 1:
        raise Wrong(
            f"{len(records)} access lines with {field} {value}: "
            + "; ".join(map(describe, records))
        )
    return records[0]


def check_traced(
    url: str, namespace: str, trace_id: str, parent_id: str, path: str, route: str
) -> str:
    record = one_access_line(url, namespace, "trace_id", trace_id)
    problems = []
    expected = {
        "level": "info",
        "method": "GET",
        "path": path,
        "route": route,
        "status": "200",
        "k8s.namespace.name": namespace,
    }
    for field, value in expected.items():
        if record.get(field) != value:
            problems.append(f"{field}={record.get(field)!r}, want {value!r}")
    try:
        float(record.get("duration_ms", ""))
    except ValueError:
        problems.append(f"duration_ms={record.get('duration_ms')!r} is not a number")
    if not record.get("request_id"):
        problems.append("no request_id")
    if not record.get("k8s.pod.name"):
        problems.append("no k8s.pod.name")
    span_id = record.get("span_id", "")
    # The server span's own id: a child of the caller's span, not the caller's.
    if not HEX16.fullmatch(span_id) or span_id == parent_id:
        problems.append(f"span_id={span_id!r} is not the server span's")
    if problems:
        raise Wrong(f"the access line of trace {trace_id}: " + ", ".join(problems))
    return (
        f"trace {trace_id} -> access line {describe(record)}: level={record['level']} "
        f"status={record['status']} duration_ms={record['duration_ms']} path={record['path']} "
        f"route={record['route']} "
        f"request_id={record['request_id']} span_id={span_id}"
    )


def check_request(url: str, namespace: str, request_id: str, trace_id: str) -> str:
    record = one_access_line(url, namespace, "request_id", request_id)
    if record.get("trace_id") != trace_id:
        found = record.get("trace_id")
        raise Wrong(f"the access line of {request_id} has trace_id {found!r}, want {trace_id}")
    return f"request id {request_id} -> exactly one access line, {describe(record)}, of that trace"


def cri_parts(record: dict[str, Any], request_id: str) -> str:
    """How the runtime wrote the line on the node (when this host can read the file): its
    `P` (partial) parts up to the `F` (final) one."""
    path = record.get("log.file.path")
    try:
        with open(path or "", encoding="utf-8", errors="replace") as log_file:
            lines = log_file.read().splitlines()
    except OSError:
        return "the node's log file is not readable here"
    marker = f'"request_id":"{request_id}"'
    for index, line in enumerate(lines):
        if marker in line:
            stream = line.split(" ", 2)[1]
            tags = []
            for part in lines[index:]:
                fields = part.split(" ", 3)
                if fields[1] != stream:
                    continue
                tags.append(fields[2])
                if fields[2] == "F":
                    break
            return f"the runtime wrote it as {len(tags)} parts ({' '.join(tags)})"
    return "not found in the node's log file"


def check_long_line(url: str, namespace: str, request_id: str, min_bytes: str) -> str:
    record = one_access_line(url, namespace, "request_id", request_id)
    size = len(json.dumps(record, separators=(",", ":")).encode())
    client = record.get("client", "")
    if len(client) < int(min_bytes):
        raise Wrong(f"the client field of {request_id} has {len(client)} bytes, want {min_bytes}")
    return (
        f"a {size}-byte record (client field {len(client)} bytes) for request id {request_id}: "
        f"one record, {describe(record)}; {cri_parts(record, request_id)}"
    )


def check_traceback(url: str, namespace: str, pod: str, marker: str, lines: str) -> str:
    records = query(url, where(namespace, f"k8s.pod.name:={quoted(pod)}"))
    errors = [r for r in records if marker in r.get("exception", "")]
    if len(records) < int(lines) or not errors:
        raise NotYet(f"{len(records)} records of pod {pod}, {len(errors)} with the traceback")
    exception = errors[0]["exception"]
    frames = exception.count('\n  File "')
    if len(records) != int(lines) or len(errors) != 1:
        raise Wrong(
            f"pod {pod} wrote {lines} lines; the store holds {len(records)} records, "
            f"{len(errors)} with the traceback"
        )
    if not exception.startswith("Traceback (most recent call last):") or frames < 3:
        raise Wrong(f"the traceback of pod {pod} is cut: {exception!r}")
    record = errors[0]
    lines_in = exception.count("\n") + 1
    return (
        f"a traceback of {lines_in} lines ({frames} frames, {len(exception)} bytes) as one record: "
        f"level={record.get('level')} logger={record.get('logger')} {describe(record)}; "
        f"the pod wrote {lines} line(s), the store holds {len(records)} record(s) of it"
    )


def check_window(
    url: str, namespace: str, client_ip: str, start: str, requests: str, victim: str
) -> str:
    logsql = where(namespace, f"logger:={quoted(ACCESS)}", f"client:{quoted(client_ip + ':')}*")
    records = query(url, logsql, start=start)
    stored, received = len(records), int(requests)
    by_victim = sum(1 for r in records if r.get("k8s.pod.name") == victim)
    if stored > received:
        raise Wrong(
            f"the client received {received} responses, the store holds {stored} access lines"
        )
    last = query(
        url, where(namespace, f"k8s.pod.name:={quoted(victim)}", '"Finished server process"')
    )
    if stored < received or not last:
        raise NotYet(
            f"{stored} of {received} access lines; the deleted pod's last line: {bool(last)}"
        )
    pods = len({r.get("k8s.pod.name") for r in records})
    return (
        f"the client received {received} responses, the store holds {stored} access lines for "
        f"them (from {pods} pods; deleted pod {victim}: {by_victim}, and its last line "
        f"{last[0]['_msg']!r})"
    )


CHECKS = {
    "traced": check_traced,
    "request": check_request,
    "long-line": check_long_line,
    "traceback": check_traceback,
    "window": check_window,
}


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[3] not in CHECKS:
        print(__doc__, file=sys.stderr)
        return 2
    url, namespace, check, *args = argv[1:]
    try:
        print(CHECKS[check](url.rstrip("/"), namespace, *args))
    except NotYet as exc:
        print(exc)
        return 1
    except Wrong as exc:
        print(exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
