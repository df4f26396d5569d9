"""The request's server span, made by the service itself instead of the OpenTelemetry SDK.

`RequestTracer.start` does per request what FastAPI's OpenTelemetry hooks and the SDK's
`Tracer.start_span` did, in the order that costs least: the incoming W3C context is read only
when the request carries one, the sampler decides before anything else is built, and only a
sampled request gets a `ServerSpan` and its attributes. An unsampled request gets the
non-recording span the SDK would give it (same ids, same flags), current in the OpenTelemetry
context as before, and nothing else.
(Over 250 lines because the span, its W3C context parsing and the per-request tracer are one
hot path, read and measured together.)

`ServerSpan` implements the OpenTelemetry span API with plain attributes (the event loop is its
only writer) and carries exactly the fields the OTLP export writes (app/otlp.py). The spans
are the ones FastAPI's hooks made, attribute for attribute: tests/app/test_tracing_span.py
compares the two on the same requests.
"""

from __future__ import annotations

import logging
import random
import re
import time
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from fastapi.telemetry._api import _HTTP_METHODS, _RequestTelemetry
from fastapi.telemetry._asgi import _SENSITIVE_QUERY_PARAMETERS, _server_attributes
from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry import trace as trace_api
from opentelemetry.attributes import _clean_attribute_value
from opentelemetry.context import Context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.sdk.trace.sampling import Decision, Sampler
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)
from opentelemetry.trace.propagation import _SPAN_KEY
from opentelemetry.util import types
from starlette.types import Scope

logger = logging.getLogger("app.tracing")

# The SDK's default span limits: attributes, events and links per span.
MAX_ATTRIBUTES = 128
MAX_EVENTS = 128
MAX_LINKS = 128

# Request headers the propagators read (tracecontext, baggage); without any of them the
# parent context is empty and extracting it would find nothing.
_CONTEXT_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})
_EMPTY_CONTEXT = Context()
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)
_SERVER = SpanKind.SERVER
# The low 64 bits of a trace id: what the SDK's ratio sampler compares with its bound.
_TRACE_ID_LIMIT = (1 << 64) - 1


class _HeaderGetter:
    """Header values for the propagators, from the ASGI header list (several values of one
    name joined for baggage, which reads only the first, as FastAPI's getter did)."""

    @staticmethod
    def get(carrier: list[tuple[bytes, bytes]], key: str) -> list[str] | None:
        name = key.lower().encode("latin-1")
        values = [value.decode("latin-1") for header, value in carrier if header == name]
        if not values:
            return None
        return [",".join(values)] if key.lower() == "baggage" else values

    @staticmethod
    def keys(carrier: list[tuple[bytes, bytes]]) -> list[str]:
        return [header.decode("latin-1") for header, _ in carrier]


_GETTER = _HeaderGetter()


def _current_context_var() -> ContextVar[Context] | None:
    """The context variable that holds OpenTelemetry's current context, when the runtime
    context is the API's default (`ContextVarsRuntimeContext`; `OTEL_PYTHON_CONTEXT` can name
    another); None otherwise.

    A root request's span is made current by setting it, and the request's end resets it:
    what `context.attach(trace.set_span_in_context(span))` and `context.detach` do, less their
    four calls and the copy of the empty context (bench/PROFILE.md, third round). The API
    offers no public handle on the variable.
    """
    runtime = otel_context._RUNTIME_CONTEXT
    if type(runtime) is ContextVarsRuntimeContext:
        return runtime._current_context
    return None


_CURRENT_CONTEXT = _current_context_var()


# A root request's trace id, drawn without `_new_id`'s call (which only repeats a zero draw).
_getrandbits = random.getrandbits


def _new_id(bits: int) -> int:
    # The SDK's RandomIdGenerator: never the all-zero (invalid) id.
    while not (value := random.getrandbits(bits)):
        pass
    return value


def _exception_type(exc: BaseException) -> str:
    cls = type(exc)
    module = cls.__module__
    return f"{module}.{cls.__qualname__}" if module and module != "builtins" else cls.__qualname__


def _query(query_string: bytes) -> str:
    """`url.query` as FastAPI's hooks wrote it: re-encoded, signature parameters redacted."""
    from urllib.parse import parse_qsl, urlencode

    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return urlencode([(k, "REDACTED" if k in _SENSITIVE_QUERY_PARAMETERS else v) for k, v in pairs])


# A Host header of this shape (lower-case name or IPv4 address, optional port) needs no URL
# parser: its parts are `server.address` and `server.port` as they are.
_PLAIN_HOST = re.compile(r"([a-z0-9.-]+)(?::([0-9]{1,5}))?")
_DEFAULT_PORTS = {"http": 80, "https": 443}


# `_server`'s answers for plain Host headers, by (header, scheme), up to a bound: a service is
# reached under a handful of names, and each answer then costs a look-up instead of the match.
_PLAIN_SERVERS: dict[tuple[bytes, str], dict[str, Any]] = {}
_PLAIN_SERVERS_LIMIT = 256


def _server(scope: Scope) -> dict[str, Any]:
    """`server.address` and `server.port` as FastAPI's hooks derived them (from the Host
    header, else the scope's server), without their URL parsing for a plain host. The caller
    copies the answer and never changes it."""
    host = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = value
            break
    if host is not None:
        scheme = scope.get("scheme", "http")
        known = _PLAIN_SERVERS.get((host, scheme))
        if known is not None:
            return known
        plain = _PLAIN_HOST.fullmatch(host.decode("latin-1"))
        if plain is not None:
            address, port = plain.groups()
            default = _DEFAULT_PORTS.get(scheme)
            answer = None
            if port is None and default is not None:
                answer = {"server.address": address, "server.port": default}
            elif port is not None and int(port) <= 65535:
                answer = {"server.address": address, "server.port": int(port)}
            if answer is not None:
                if len(_PLAIN_SERVERS) < _PLAIN_SERVERS_LIMIT:
                    _PLAIN_SERVERS[(host, scheme)] = answer
                return answer
    return _server_attributes(scope)


class ServerSpan(trace_api.Span):
    """A sampled request's span: what the OTLP export writes, and the span API around it."""

    # SPAN_KIND_SERVER in OTLP's trace.proto (the API's SpanKind numbers differ by one).
    kind = 2

    def __init__(
        self,
        name: str,
        trace_id: int,
        span_id: int,
        parent: SpanContext | None,
        trace_state: TraceState | None,
        attributes: dict[str, types.AnyValue],
        on_end: Callable[[ServerSpan], None],
    ) -> None:
        self.name = name
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_span_id = parent.span_id if parent is not None else None
        self.parent_is_remote = parent is not None and parent.is_remote
        self.trace_state = trace_state
        self.start_time = time.time_ns()
        self.end_time: int | None = None
        self.attributes = attributes
        self.dropped_attributes = 0
        self.events: list[tuple[str, int, dict[str, types.AnyValue]]] = []
        self.dropped_events = 0
        self.links: list[tuple[SpanContext, dict[str, types.AnyValue]]] = []
        self.status_code = 0
        self.status_description: str | None = None
        self._on_end = on_end
        self._context: SpanContext | None = None

    @property
    def context(self) -> SpanContext:
        if self._context is None:
            self._context = SpanContext(
                self.trace_id, self.span_id, False, _SAMPLED, self.trace_state
            )
        return self._context

    def get_span_context(self) -> SpanContext:
        return self.context

    def is_recording(self) -> bool:
        return self.end_time is None

    def hex_ids(self) -> tuple[str, str]:
        """The W3C hex form of the ids (bytes' `hex()`: half the time of `format`)."""
        return self.trace_id.to_bytes(16, "big").hex(), self.span_id.to_bytes(8, "big").hex()

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        if self.end_time is not None or not key or not isinstance(key, str):
            return
        # A str (FastAPI's http.route) is clean as it is: no span limits on value length.
        if type(value) is not str:
            value = _clean_attribute_value(value, None)
        if value is None:
            return
        if key not in self.attributes and len(self.attributes) >= MAX_ATTRIBUTES:
            self.dropped_attributes += 1
            return
        self.attributes[key] = value

    def set_attributes(self, attributes: types.Attributes) -> None:
        for key, value in (attributes or {}).items():
            self.set_attribute(key, value)

    def _clean(self, attributes: types.Attributes) -> dict[str, types.AnyValue]:
        cleaned = {}
        for key, value in (attributes or {}).items():
            value = _clean_attribute_value(value, None)
            if key and isinstance(key, str) and value is not None:
                cleaned[key] = value
        return cleaned

    def add_event(
        self, name: str, attributes: types.Attributes = None, timestamp: int | None = None
    ) -> None:
        if self.end_time is not None:
            return
        if len(self.events) >= MAX_EVENTS:
            self.dropped_events += 1
            return
        stamp = time.time_ns() if timestamp is None else timestamp
        self.events.append((name, stamp, self._clean(attributes)))

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        if self.end_time is None and context.is_valid and len(self.links) < MAX_LINKS:
            self.links.append((context, self._clean(attributes)))

    def update_name(self, name: str) -> None:
        if self.end_time is None:
            self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # The SDK's rules: OK is final, UNSET is ignored, a description only with ERROR.
        if self.end_time is not None or self.status_code == StatusCode.OK.value:
            return
        if isinstance(status, Status):
            status, description = status.status_code, status.description
        if status is StatusCode.UNSET:
            return
        self.status_code = status.value
        self.status_description = description if status is StatusCode.ERROR else None

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        event: dict[str, types.AnyValue] = {
            "exception.type": _exception_type(exception),
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        event.update(attributes or {})
        self.add_event("exception", event, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self.end_time is not None:
            return
        self.end_time = time.time_ns() if end_time is None else end_time
        self._on_end(self)


class UnsampledSpan(NonRecordingSpan):
    """The span of a request without a parent that the sampler dropped: the SDK's
    `NonRecordingSpan` (trace id, a span id, flags 00, no trace state), whose span context,
    span id included, is made when something first asks for it. Most such requests never
    do: building it up front was a quarter of what tracing cost them."""

    def __init__(self, trace_id: int) -> None:  # the base's only field is the property below
        self._trace_id = trace_id

    @property
    def _context(self) -> SpanContext:
        fields = self.__dict__
        context = fields.get("_made")
        if context is None:
            # setdefault: one span id, even when two threads (a sync route's) ask at once.
            made = SpanContext(self._trace_id, _new_id(64), False, _NOT_SAMPLED)
            context = fields.setdefault("_made", made)
        return context

    def get_span_context(self) -> SpanContext:
        return self._context


class TracedRequest:
    """One request's tracing state between `RequestTracer.start` and `finish`."""

    __slots__ = ("_reset", "_telemetry", "_token", "span")

    def __init__(
        self,
        span: ServerSpan | None,
        token: Any,
        telemetry: _RequestTelemetry | None,
        reset: bool = False,
    ) -> None:
        """`reset`: the token is the context variable's (see `_current_context_var`), not
        the API's `attach`'s."""
        self.span = span
        self._token = token
        self._telemetry = telemetry
        self._reset = reset

    def finish(self, scope: Scope, status: int | None, error: BaseException | None) -> None:
        """End the span (a sampled request) with its status, then restore the context."""
        span = self.span
        if span is not None:
            scope.pop("fastapi.telemetry", None)
            attributes = span.attributes
            if status is not None:
                attributes["http.response.status_code"] = status
            elif error is None:
                error = RuntimeError("Incomplete ASGI response")
            if error is not None or status is None or status >= 500:
                attributes["error.type"] = (
                    _exception_type(error) if error is not None else str(status)
                )
                span.set_status(StatusCode.ERROR)
            span.end()
        if not self._reset:
            otel_context.detach(self._token)
            return
        try:
            _CURRENT_CONTEXT.reset(self._token)  # type: ignore[union-attr]  # _reset: not None
        except (RuntimeError, ValueError):
            # As the API's detach: a token from another context is logged, not raised.
            logger.exception("Failed to detach context")


class RequestTracer:
    """Starts each request's span: W3C context in, sampler, ids, attributes, current span."""

    def __init__(
        self,
        sampler: Sampler,
        on_end: Callable[[ServerSpan], None],
        exclude: frozenset[str] = frozenset(),
        root_bound: int | None = None,
    ) -> None:
        """`exclude`: the paths of requests that are not traced at all (the probes).
        `root_bound`: the sampler's decision for a request without a parent, when it is
        `trace_id & 0xffffffffffffffff < root_bound` (see app/tracing.py's `root_bound`);
        None to ask the sampler for every request."""
        self._sampler = sampler
        self._on_end = on_end
        self._exclude = exclude
        self._root_bound = root_bound

    def start(self, scope: Scope) -> TracedRequest | None:
        """The request's tracing state; None for a request that is not traced at all (a
        probe, unless TRACING_PROBES is on)."""
        if scope["path"] in self._exclude:
            return None
        headers = scope["headers"]
        for name, _ in headers:
            if name in _CONTEXT_HEADERS:
                parent_context = propagate.extract(headers, getter=_GETTER)
                parent = trace_api.get_current_span(parent_context).get_span_context()
                if not parent.is_valid:
                    return self._decide(scope, parent_context, None, _new_id(128))
                return self._decide(scope, parent_context, parent, parent.trace_id)
        trace_id = _getrandbits(128) or _new_id(128)
        bound = self._root_bound
        if bound is None:
            return self._decide(scope, _EMPTY_CONTEXT, None, trace_id)
        # A request without a parent, and a sampler whose decision for it is the trace id's
        # alone (see `root_bound`): the decision without the sampler's call and result.
        if trace_id & _TRACE_ID_LIMIT < bound:
            return self._sampled(scope, trace_id, _new_id(64), None, None, _EMPTY_CONTEXT)
        current = UnsampledSpan(trace_id)
        if _CURRENT_CONTEXT is not None:
            token = _CURRENT_CONTEXT.set(Context({_SPAN_KEY: current}))
            return TracedRequest(None, token, None, True)
        token = otel_context.attach(trace_api.set_span_in_context(current, _EMPTY_CONTEXT))
        return TracedRequest(None, token, None)

    def _decide(
        self, scope: Scope, parent_context: Context, parent: SpanContext | None, trace_id: int
    ) -> TracedRequest:
        """The sampler's decision, for a request with a parent or for any sampler."""
        method = scope["method"]
        span_method = method if method in _HTTP_METHODS else "HTTP"
        result = self._sampler.should_sample(parent_context, trace_id, span_method, _SERVER)
        span_id = _new_id(64)
        if result.decision is Decision.RECORD_AND_SAMPLE:
            return self._sampled(
                scope, trace_id, span_id, parent, result.trace_state, parent_context
            )
        flags = _SAMPLED if result.decision.is_sampled() else _NOT_SAMPLED
        current = NonRecordingSpan(SpanContext(trace_id, span_id, False, flags, result.trace_state))
        token = otel_context.attach(trace_api.set_span_in_context(current, parent_context))
        return TracedRequest(None, token, None)

    def _sampled(
        self,
        scope: Scope,
        trace_id: int,
        span_id: int,
        parent: SpanContext | None,
        trace_state: TraceState | None,
        parent_context: Context,
    ) -> TracedRequest:
        method = scope["method"]
        known = method in _HTTP_METHODS
        span_method = method if known else "HTTP"
        span = ServerSpan(
            span_method,
            trace_id,
            span_id,
            parent,
            trace_state,
            self._attributes(scope, method if known else "_OTHER", method),
            self._on_end,
        )
        # FastAPI names the span and sets http.route when it selects the route.
        telemetry = _RequestTelemetry(
            span=span,
            span_method=span_method,
            data=None,
            _mount_prefix=scope.get("app_root_path", scope.get("root_path", "")).rstrip("/"),
        )
        scope["fastapi.telemetry"] = telemetry
        if parent_context is _EMPTY_CONTEXT and _CURRENT_CONTEXT is not None:
            token = _CURRENT_CONTEXT.set(Context({_SPAN_KEY: span}))
            return TracedRequest(span, token, telemetry, True)
        token = otel_context.attach(trace_api.set_span_in_context(span, parent_context))
        return TracedRequest(span, token, telemetry)

    @staticmethod
    def _attributes(scope: Scope, method: str, original_method: str) -> dict[str, Any]:
        """The span's attributes known at the start, as FastAPI's hooks set them, and the
        client's (address, user agent) that the service adds."""
        attributes: dict[str, Any] = {
            "url.scheme": scope.get("scheme", "http"),
            "http.request.method": method,
        }
        if scope.get("http_version"):
            attributes["network.protocol.version"] = scope["http_version"]
        attributes.update(_server(scope))
        attributes["url.path"] = scope["path"]
        if scope.get("query_string"):
            attributes["url.query"] = _query(scope["query_string"])
        if method != original_method:
            attributes["http.request.method_original"] = original_method
        client = scope.get("client")
        if client:
            attributes["client.address"] = client[0]
        for name, value in scope["headers"]:
            if name == b"user-agent":
                attributes["user_agent.original"] = value.decode("latin-1")
                break
        return attributes
