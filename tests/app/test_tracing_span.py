"""The service's own request spans (app/tracing_span.py) against what they replace: the
spans FastAPI's OpenTelemetry hooks made with the SDK (the OTLP bytes: test_otlp.py).

The same requests go through two stacks: the reference (FastAPI's hooks with an SDK tracer
provider, and the client attributes the service used to add to the current span) and the
service's `RequestMiddleware` with a `RequestTracer`. Every span must come out the same:
name, kind, parent, trace state, attributes, status, and the span current while the route
runs.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.middleware import Middleware
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler
from opentelemetry.trace import SpanKind, StatusCode

from app.health import HealthState
from app.metrics import HttpMetrics
from app.middleware import RequestMiddleware
from app.tracing_span import RequestTracer, ServerSpan

pytestmark = pytest.mark.anyio

UPSTREAM = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

REQUESTS: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/items/7", {"user-agent": "probe/1"}),
    ("GET", "/items/7?a=1&sig=secret&b=&X-Amz-Signature=s", {}),
    ("GET", "/", {"traceparent": UPSTREAM, "tracestate": "vendor=opaque,other=1"}),
    ("GET", "/", {"traceparent": UPSTREAM.removesuffix("01") + "00"}),
    ("GET", "/", {"traceparent": "not-a-trace-context", "baggage": "k=v"}),
    ("GET", "/nowhere", {}),
    ("GET", "/items/not-a-number", {}),
    ("GET", "/items/7/", {}),  # redirected to /items/7: named by the route it redirects to
    ("POST", "/items/7", {}),  # 405
    ("FOO", "/items/7", {}),  # not a known method: _OTHER
    ("GET", "/fail", {}),
    ("GET", "/", {"host": "example.com:8443"}),
    ("GET", "/", {"host": "[::1]:9000"}),
    ("GET", "/", {"host": "bad host:x"}),
    ("GET", "/", {"host": "Example.COM"}),
    ("GET", "/", {"host": "10.0.0.1:00080"}),
    ("GET", "/", {"host": "h:65536"}),
    ("GET", "/", {"host": "h:"}),
]


def add_routes(app: FastAPI, seen: list[tuple[int, int, bool]]) -> None:
    @app.get("/")
    async def root() -> dict[str, str]:
        context = trace.get_current_span().get_span_context()
        seen.append((context.trace_id, context.span_id, context.trace_flags.sampled))
        return {"ok": "yes"}

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.get("/fail")
    async def fail() -> None:
        raise RuntimeError("failed")


class ClientAttributes:
    """What the service's middleware added to FastAPI's span before (the reference)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        span = trace.get_current_span()
        if scope["type"] == "http" and span.is_recording():
            attributes = {"client.address": scope["client"][0]}
            for name, value in scope["headers"]:
                if name == b"user-agent":
                    attributes["user_agent.original"] = value.decode("latin-1")
                    break
            span.set_attributes(attributes)
        await self.app(scope, receive, send)


def request_middleware(**kwargs: Any) -> Middleware:
    return Middleware(
        RequestMiddleware,
        metrics=HttpMetrics(version="1", env="test"),
        state=HealthState(),
        access_log_probes=False,
        **kwargs,
    )


def reference_app(sampler: Sampler, seen: list[Any]) -> tuple[FastAPI, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler, shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = FastAPI(
        telemetry={
            "tracer_provider": provider,
            "tracing": True,
            "metrics": False,
            "logs": False,
            "operation_spans": False,
            "auto_configure": False,
        },
        middleware=[Middleware(ClientAttributes), request_middleware()],
    )
    add_routes(app, seen)
    return app, exporter


def service_app(sampler: Sampler, seen: list[Any]) -> tuple[FastAPI, list[ServerSpan]]:
    spans: list[ServerSpan] = []
    tracer = RequestTracer(sampler, spans.append, exclude=frozenset())
    app = FastAPI(
        telemetry={"tracing": False, "metrics": False, "logs": False},
        middleware=[request_middleware(tracer=tracer)],
    )
    add_routes(app, seen)
    return app, spans


async def run(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for method, url, headers in REQUESTS:
            await client.request(method, url, headers=headers)


def sdk_view(span: ReadableSpan) -> dict[str, Any]:
    parent = span.parent
    return {
        "name": span.name,
        "kind": span.kind,
        "parent": (parent.trace_id, parent.span_id, parent.is_remote) if parent else None,
        "trace_state": dict(span.context.trace_state),
        "attributes": dict(span.attributes),
        "status": (span.status.status_code, span.status.description),
        "events": [(event.name, dict(event.attributes)) for event in span.events],
    }


def own_view(span: ServerSpan) -> dict[str, Any]:
    parent = None
    if span.parent_span_id is not None:
        parent = (span.trace_id, span.parent_span_id, span.parent_is_remote)
    return {
        "name": span.name,
        "kind": SpanKind.SERVER,
        "parent": parent,
        "trace_state": dict(span.trace_state or {}),
        "attributes": dict(span.attributes),
        "status": (StatusCode(span.status_code), span.status_description),
        "events": [(name, attributes) for name, _, attributes in span.events],
    }


async def test_the_same_spans_as_fastapis_hooks_with_the_sdk() -> None:
    reference_seen: list[Any] = []
    own_seen: list[Any] = []
    reference, exported = reference_app(ALWAYS_ON, reference_seen)
    own, spans = service_app(ALWAYS_ON, own_seen)
    await run(reference)
    await run(own)

    expected = [sdk_view(span) for span in exported.get_finished_spans()]
    assert len(expected) == len(REQUESTS)
    # The service's middleware records the unhandled exception of /fail on the span (it did
    # so on FastAPI's span too, through the SDK: see the next test); the rest is FastAPI's.
    views = [own_view(span) for span in spans]
    [failed] = [view for view in views if view["name"] == "GET /fail"]
    [(name, attributes)] = failed.pop("events")
    assert (name, attributes["exception.message"]) == ("exception", "failed")
    failed["events"] = []
    assert views == expected
    # The route saw its own request's span as the current one, with the same flags.
    by_span = {span.span_id: span for span in spans}
    assert [sampled for _, _, sampled in own_seen] == [s for _, _, s in reference_seen]
    for trace_id, span_id, _ in own_seen:
        assert by_span[span_id].trace_id == trace_id
    # The span ends after the response: its start and end are real times, in order.
    for span in spans:
        assert span.end_time is not None
        assert 0 < span.start_time <= span.end_time


async def test_an_unsampled_request_has_the_sdks_non_recording_span() -> None:
    reference_seen: list[Any] = []
    own_seen: list[Any] = []
    reference, exported = reference_app(ALWAYS_OFF, reference_seen)
    own, spans = service_app(ALWAYS_OFF, own_seen)
    await run(reference)
    await run(own)

    assert exported.get_finished_spans() == ()
    assert spans == []
    assert len(own_seen) == len(reference_seen) == 10
    for (own_trace, own_span, own_sampled), (ref_trace, ref_span, ref_sampled) in zip(
        own_seen, reference_seen, strict=True
    ):
        assert own_sampled == ref_sampled is False
        assert own_span != 0
        assert ref_span != 0
        assert (own_trace == ref_trace) == (ref_trace == int(UPSTREAM[3:35], 16))


def test_an_exception_event_is_the_sdks() -> None:
    provider = TracerProvider(shutdown_on_exit=False)
    sdk_span = provider.get_tracer("t").start_span("GET")
    own = ServerSpan("GET", 1, 2, None, None, {}, lambda _: None)
    try:
        raise KeyError("missing")
    except KeyError as exc:
        sdk_span.record_exception(exc, {"extra": 1}, timestamp=5)
        own.record_exception(exc, {"extra": 1}, timestamp=5)
    [event] = sdk_span.events
    assert own.events == [(event.name, event.timestamp, dict(event.attributes))]


def test_the_span_api_follows_the_sdks_rules() -> None:
    ended: list[ServerSpan] = []
    span = ServerSpan("GET", 1, 2, None, None, {}, ended.append)
    span.set_attribute("ok", 1)
    span.set_attribute("dropped", object())  # not a valid attribute value: ignored
    span.set_status(StatusCode.UNSET)
    span.set_status(StatusCode.OK)
    span.set_status(StatusCode.ERROR, "too late")  # OK is final
    assert span.is_recording()
    span.end()
    span.end()
    span.set_attribute("after", 1)
    assert ended == [span]
    assert span.attributes == {"ok": 1}
    assert (span.status_code, span.status_description) == (StatusCode.OK.value, None)
    assert not span.is_recording()
    context = span.get_span_context()
    assert (context.trace_id, context.span_id, context.trace_flags.sampled) == (1, 2, True)
