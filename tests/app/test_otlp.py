"""app/otlp.py writes the same `ExportTraceServiceRequest` bytes as the OTLP exporter's
protobuf encoder, for spans of every shape (attribute types, events, links, status, remote
parents, trace state) and for the spans real requests make."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from app.otlp import SpanEncoder
from app.tracing import SCOPE_NAME, SCOPE_SCHEMA_URL
from app.tracing_span import ServerSpan
from tests.app.test_tracing_span import run, service_app


def to_sdk(span: ServerSpan, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    parent = None
    if span.parent_span_id is not None:
        parent = SpanContext(span.trace_id, span.parent_span_id, span.parent_is_remote)
    return ReadableSpan(
        name=span.name,
        context=span.get_span_context(),
        parent=parent,
        resource=resource,
        attributes=span.attributes,
        events=[Event(name, attributes, stamp) for name, stamp, attributes in span.events],
        links=[Link(context, attributes) for context, attributes in span.links],
        kind=SpanKind.SERVER,
        instrumentation_scope=scope,
        status=Status(StatusCode(span.status_code), span.status_description),
        start_time=span.start_time,
        end_time=span.end_time,
    )


def varied_span(n: int) -> ServerSpan:
    remote = SpanContext(0xABC + n, 0xDEF + n, True, TraceFlags(1), TraceState([("k", "v")]))
    span = ServerSpan(
        "GET /items/{item_id}",
        0x4BF92F3577B34DA6A3CE929D0E0E4736 + n,
        0x00F067AA0BA902B7 + n,
        remote if n % 2 else None,
        TraceState([("vendor", "opaque")]) if n % 3 == 0 else None,
        {"url.path": f"/items/{n}", "http.request.method": "GET", "server.port": 8080},
        lambda _: None,
    )
    span.set_attributes(
        {
            "flag": n % 2 == 0,
            "ratio": 0.25 * n,
            "negative": -n - 1,
            "big": 2**62 + n,
            "tags": ["a", "é", ""],
            "numbers": [1, 2, 3],
            "empty": "",
        }
    )
    if n % 2:
        try:
            raise ValueError(f"bad {n}")
        except ValueError as exc:
            span.record_exception(exc, {"extra": n})
        span.set_status(StatusCode.ERROR, "broken")
        span.add_link(remote, {"link.n": n})
    else:
        span.set_status(Status(StatusCode.OK))
    span.add_event("plain")
    span.end()
    return span


def test_the_otlp_bytes_are_the_exporters() -> None:
    resource = Resource.create({"service.name": "orders", "team": "payments", "n": 3})
    scope = InstrumentationScope(SCOPE_NAME, "0.165.0", SCOPE_SCHEMA_URL)
    encoder = SpanEncoder(
        resource.attributes, resource.schema_url, SCOPE_NAME, "0.165.0", SCOPE_SCHEMA_URL
    )
    spans = [varied_span(n) for n in range(6)]

    expected = encode_spans([to_sdk(span, resource, scope) for span in spans])
    assert encoder.encode(spans) == expected.SerializePartialToString()
    assert (
        encoder.encode(spans[:1])
        == encode_spans([to_sdk(spans[0], resource, scope)]).SerializePartialToString()
    )


@pytest.mark.anyio
async def test_the_otlp_bytes_of_real_request_spans_are_the_exporters() -> None:
    own, spans = service_app(ALWAYS_ON, [])
    await run(own)
    resource = Resource.create({"service.name": "orders"})
    scope = InstrumentationScope(SCOPE_NAME, "1.0", SCOPE_SCHEMA_URL)
    encoder = SpanEncoder(resource.attributes, "", SCOPE_NAME, "1.0", SCOPE_SCHEMA_URL)
    expected = encode_spans([to_sdk(span, resource, scope) for span in spans])
    assert encoder.encode(spans) == expected.SerializePartialToString()


def test_repeated_attributes_encode_as_the_exporter_whatever_came_before() -> None:
    """Encoded attributes are cached by key and value: a bool, an int and a float that are
    equal (True == 1 == 1.0), and the same key under other tags (events), each keep their
    own bytes, in any order, with the cache cold or warm."""
    resource = Resource.create({"service.name": "orders"})
    scope = InstrumentationScope(SCOPE_NAME, "1.0", SCOPE_SCHEMA_URL)
    encoder = SpanEncoder(resource.attributes, "", SCOPE_NAME, "1.0", SCOPE_SCHEMA_URL)
    values = [1, True, 1.0, "1", 0, False, 0.0, "", 2**63 - 1, -1]
    spans = []
    for n, value in enumerate(values + values[::-1]):
        span = ServerSpan("GET /", 0xABC + n, 0xDEF + n, None, None, {"v": value}, lambda _: None)
        span.add_event("e", {"v": value})
        span.end()
        spans.append(span)
    for _ in range(2):
        expected = encode_spans([to_sdk(span, resource, scope) for span in spans])
        assert encoder.encode(spans) == expected.SerializePartialToString()
        for span in spans:
            single = encode_spans([to_sdk(span, resource, scope)]).SerializePartialToString()
            assert encoder.encode([span]) == single
