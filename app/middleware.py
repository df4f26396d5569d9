"""The pure ASGI request middleware: the one per-request layer of the service.

In one pass `RequestMiddleware` counts the request in the HTTP metrics (app/metrics.py),
writes the JSON access line, assigns and echoes `X-Request-ID`, refuses over-limit requests
(431, 414, 400), turns an unhandled exception into a logged and counted 500, and adds
`Connection: close` while the server drains. With tracing on it also starts and ends the
request's span (app/tracing_span.py) and ties it to its logs (trace and span ids) and to its
latency observation (an exemplar, in the OpenMetrics exposition). It is
plain ASGI, not `BaseHTTPMiddleware`, whose task-per-request machinery alone costs more
than half the throughput of a small FastAPI app.

Over 250 lines because everything a request passes through is in this one pass on the hot
path, with its helpers beside it (bench/PROFILE.md measures it).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from app.tracing_span import RequestTracer

from app.health import PROBE_ENDPOINTS, HealthState
from app.logging import ACCESS_LOGGER, REQUEST_ID, TRACE_IDS, log_access
from app.metrics import HttpMetrics

STANDARD_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"}
)
UNMATCHED = "unmatched"

# A client-supplied request id is kept only if it is short and plainly printable.
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")
_INTERNAL_ERROR = orjson.dumps({"detail": "Internal Server Error"})

# Request limits. httptools parses headers of any size and count, and HTTP/0.9-style
# request lines, and hands them on; these requests are refused before any route runs.
# (A proxy in front should still cap header bytes: this check runs after they are read.)
MAX_HEADER_FIELDS = 100
MAX_HEADER_BYTES = 32 * 1024
MAX_TARGET_BYTES = 8 * 1024
# Longer paths are cut in the access log, so a line stays bounded.
MAX_LOGGED_PATH = 512
_SUPPORTED_HTTP_VERSIONS = frozenset({"1.0", "1.1"})


def _read_headers(scope: Scope) -> tuple[str, tuple[int, bytes] | None]:
    """One pass over the request headers: the request id to use, and the status and JSON body
    refusing an over-limit request (None to serve it)."""
    headers = scope["headers"]
    client_id = None
    size = 0
    for name, value in headers:
        size += len(name) + len(value)
        if name == b"x-request-id" and client_id is None:
            client_id = value
    if client_id is not None and _SANE_REQUEST_ID.fullmatch(client_id):
        request_id = client_id.decode("ascii")
    else:
        request_id = _random_ids.next()
    if scope.get("http_version") not in _SUPPORTED_HTTP_VERSIONS:
        return request_id, (400, b'{"detail":"Unsupported HTTP version"}')
    if len(headers) > MAX_HEADER_FIELDS or size > MAX_HEADER_BYTES:
        return request_id, (431, b'{"detail":"Request Header Fields Too Large"}')
    if len(scope.get("raw_path") or b"") + len(scope.get("query_string", b"")) > MAX_TARGET_BYTES:
        return request_id, (414, b'{"detail":"URI Too Long"}')
    return request_id, None


error_logger = logging.getLogger("app.error")


class _RandomIds:
    """128 random bits as 32 hex digits, like uuid4().hex without building a UUID object.

    The bits come from os.urandom, read 4 KiB (256 ids) at a time instead of one system call
    per request. A forked child starts with an empty pool, so it never repeats the parent's.
    """

    __slots__ = ("_hex", "_pos")
    _CHUNK = 4096

    def __init__(self) -> None:
        self._hex = ""
        self._pos = 0
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._hex = ""
        self._pos = 0

    def next(self) -> str:
        pos = self._pos
        if pos >= len(self._hex):
            self._hex = os.urandom(self._CHUNK).hex()
            pos = 0
        self._pos = pos + 32
        return self._hex[pos : pos + 32]


_random_ids = _RandomIds()


async def _send_json(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else None


class RequestMiddleware:
    """Metrics, access log, request id, 500 handling and drain headers for every HTTP request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: HttpMetrics,
        state: HealthState,
        access_log_probes: bool,
        tracer: RequestTracer | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.state = state
        self.tracer = tracer
        self.probe_level = logging.INFO if access_log_probes else logging.DEBUG
        self.access = logging.getLogger(ACCESS_LOGGER)
        # Route objects that do not expose a template in the scope (Starlette routes such as
        # /docs), looked up once per endpoint function and then cached.
        self._templates: dict[Callable[..., Any], str] = {}

    def _endpoint(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is not None:
            template = getattr(route, "path_format", None)
            if template is not None:
                return template
        endpoint = scope.get("endpoint")
        if endpoint is None:
            return UNMATCHED
        template = self._templates.get(endpoint)
        if template is None:
            template = UNMATCHED
            router = scope.get("router")
            for candidate in getattr(router, "routes", ()):
                if getattr(candidate, "endpoint", None) is endpoint:
                    template = getattr(candidate, "path_format", UNMATCHED)
                    break
            self._templates[endpoint] = template
        return template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        start = time.perf_counter()
        request_id, refusal = _read_headers(scope)
        request_id_header = (b"x-request-id", request_id.encode("ascii"))
        token = REQUEST_ID.set(request_id)
        traced = self.tracer.start(scope) if self.tracer is not None else None
        span = traced.span if traced is not None else None
        trace_ids = span.hex_ids() if span is not None else None
        trace_token = TRACE_IDS.set(trace_ids) if trace_ids is not None else None
        error: BaseException | None = None
        state = self.state
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                # A new list: prebuilt responses share theirs between requests.
                headers = [*message.get("headers", ()), request_id_header]
                if state.draining:
                    # Keep-alive clients reconnect, and reach a pod that is not leaving.
                    headers.append((b"connection", b"close"))
                message = {**message, "headers": headers}
            await send(message)

        self.metrics.in_flight += 1
        try:
            if refusal is None:
                await self.app(scope, receive, send_wrapper)
            else:
                await _send_json(send_wrapper, *refusal)
        except Exception as exc:
            status = 500
            if span is not None:
                span.record_exception(exc)
            error_logger.exception(
                "unhandled exception",
                extra={"method": scope["method"], "path": scope["path"]},
            )
            if response_started:
                # Too late for a 500; re-raise so the server aborts the connection.
                error = exc
                raise
            # Handled here, not in Starlette's ServerErrorMiddleware, so it is logged once,
            # with the request id, and the body never carries a traceback.
            await _send_json(send_wrapper, 500, _INTERNAL_ERROR)
        finally:
            duration = time.perf_counter() - start
            if traced is not None:
                traced.finish(scope, status if response_started else None, error)
            self.metrics.in_flight -= 1
            method = scope["method"]
            if method not in STANDARD_METHODS:
                method = "OTHER"
            endpoint = self._endpoint(scope)
            if trace_ids is None:
                self.metrics.observe(method, endpoint, status, duration)
            else:
                exemplar = {"trace_id": trace_ids[0]}
                self.metrics.observe(method, endpoint, status, duration, exemplar)
            level = self.probe_level if endpoint in PROBE_ENDPOINTS else logging.INFO
            if self.access.isEnabledFor(level):
                fields = _access_fields(scope, endpoint, status, duration, request_id)
                if trace_ids is not None:
                    fields["trace_id"], fields["span_id"] = trace_ids
                log_access(self.access, level, fields)
            if trace_token is not None:
                TRACE_IDS.reset(trace_token)
            REQUEST_ID.reset(token)


def _access_fields(
    scope: Scope, route: str, status: int, duration: float, request_id: str
) -> dict[str, Any]:
    """The fields of an access line (see `log_access`). `route` is the route template (the
    metrics' `endpoint` label, "unmatched" for none): bounded, so a log store can index it."""
    path = scope["path"]
    if len(path) > MAX_LOGGED_PATH:
        path = f"{path[:MAX_LOGGED_PATH]}...({len(path)} chars)"
    return {
        "method": scope["method"],
        "path": path,
        "route": route,
        "status": status,
        "duration_ms": round(duration * 1000, 3),
        "request_id": request_id,
        "client": _client(scope),
    }
