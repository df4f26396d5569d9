"""The request tracer's shortcuts against the paths they stand for: the sampler's decision
for a request without a parent (`root_bound`), and the same requests traced with and without
it (ids, flags, trace state, current span, spans); the server attributes remembered per Host
header against FastAPI's derivation."""

from __future__ import annotations

import contextvars
import random
from typing import Any

import pytest
from fastapi.telemetry._asgi import _server_attributes
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import Decision, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation import _SPAN_KEY

from app import tracing_span
from app.tracing import root_bound, sampler
from app.tracing_span import RequestTracer, ServerSpan, UnsampledSpan, _server

SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
RATIOS = (0.0, 1e-9, 0.1, 0.25, 0.5, 0.999, 1.0)
UPSTREAM = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def trace_ids(ratio: float) -> list[int]:
    """Random ids, and the ids on either side of the ratio's bound (low 64 bits) with and
    without high bits."""
    rng = random.Random(25)  # noqa: S311 - reproducible test ids
    ids = [rng.getrandbits(128) or 1 for _ in range(2000)]
    bound = TraceIdRatioBased.get_bound_for_rate(ratio)
    for edge in (bound - 1, bound, bound + 1, (1 << 64) - 1, 1):
        if 0 < edge < 1 << 64:
            ids += [edge, edge | (rng.getrandbits(64) << 64)]
    return ids


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("ratio", RATIOS)
def test_the_root_bound_decides_as_the_sampler(name: str, ratio: float) -> None:
    chosen = sampler(name, ratio)
    bound = root_bound(name, ratio)
    for trace_id in trace_ids(ratio):
        result = chosen.should_sample(None, trace_id, "GET", SpanKind.SERVER)
        assert result.decision in (Decision.RECORD_AND_SAMPLE, Decision.DROP)
        assert result.trace_state is None
        sampled = result.decision is Decision.RECORD_AND_SAMPLE
        assert (trace_id & ((1 << 64) - 1) < bound) == sampled, (name, ratio, hex(trace_id))


SCOPES: list[dict[str, Any]] = [
    {"method": "GET", "path": "/items/7", "headers": [(b"host", b"h:8000")]},
    {"method": "FOO", "path": "/", "headers": [(b"user-agent", b"ua")], "query_string": b"a=1"},
    {"method": "GET", "path": "/", "headers": [(b"traceparent", UPSTREAM.encode())]},
    {"method": "GET", "path": "/", "headers": [(b"traceparent", b"bad"), (b"baggage", b"k=v")]},
    {
        "method": "GET",
        "path": "/",
        "headers": [(b"traceparent", UPSTREAM[:-2].encode() + b"00"), (b"tracestate", b"a=b")],
    },
]


def trace_all(tracer: RequestTracer, spans: list[ServerSpan]) -> list[Any]:
    """What each request's tracing gave: the current span's context, the span's fields."""
    seen = []
    random.seed(7)
    for _ in range(200):
        for template in SCOPES:
            scope = {"type": "http", "scheme": "http", "client": ("10.0.0.1", 5), **template}
            scope["headers"] = list(template["headers"])
            traced = tracer.start(scope)
            assert traced is not None
            context = trace.get_current_span().get_span_context()
            seen.append((context, traced.span is not None))
            traced.finish(scope, 200, None)
            assert not trace.get_current_span().get_span_context().is_valid
    seen.append([(s.name, s.trace_id, s.span_id, s.parent_span_id, s.attributes) for s in spans])
    return seen


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("ratio", [0.0, 0.1, 1.0])
def test_requests_traced_the_same_with_the_root_bound(name: str, ratio: float) -> None:
    asked: list[ServerSpan] = []
    decided: list[ServerSpan] = []
    chosen = sampler(name, ratio)
    with_sampler = RequestTracer(chosen, asked.append, exclude=frozenset())
    with_bound = RequestTracer(
        chosen, decided.append, exclude=frozenset(), root_bound=root_bound(name, ratio)
    )
    assert trace_all(with_bound, decided) == trace_all(with_sampler, asked)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_remembered_server_attributes_are_fastapis(scheme: str) -> None:
    hosts = [b"example.com", b"example.com:8443", b"10.0.0.1:00080", b"h:65536", b"h:", b"H"]
    hosts += [b"Example.COM", b"[::1]:9000", b"a-b.c:1", b"bad host:x", b"h:0"]
    for _ in range(2):  # the first answer computed, the second remembered
        for host in hosts:
            scope = {"scheme": scheme, "server": ("10.1.1.1", 81), "headers": [(b"host", host)]}
            assert _server(scope) == _server_attributes(scope), host
    scope = {"scheme": scheme, "server": ("10.1.1.1", 81), "headers": []}
    assert _server(scope) == _server_attributes(scope)


def test_an_unsampled_span_is_the_sdks_once_asked() -> None:
    span = UnsampledSpan(0x4BF92F3577B34DA6A3CE929D0E0E4736)
    context = span.get_span_context()
    assert span.get_span_context() is context  # one span id, made once
    expected = SpanContext(context.trace_id, context.span_id, False, TraceFlags(0))
    assert context == expected
    assert context.is_valid
    assert context.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736
    assert isinstance(span, NonRecordingSpan)
    assert not span.is_recording()
    assert repr(span) == repr(NonRecordingSpan(expected))
    span.set_attribute("ignored", 1)
    span.end()


def test_hex_ids_are_the_w3c_form() -> None:
    rng = random.Random(3)  # noqa: S311 - reproducible test ids
    pairs = [(1, 1), ((1 << 128) - 1, (1 << 64) - 1), (0xABC, 0xDEF)]
    pairs += [(rng.getrandbits(128) or 1, rng.getrandbits(64) or 1) for _ in range(1000)]
    for trace_id, span_id in pairs:
        span = ServerSpan("GET", trace_id, span_id, None, None, {}, lambda _: None)
        assert span.hex_ids() == (trace.format_trace_id(trace_id), trace.format_span_id(span_id))


def test_an_unsampled_request_sets_and_restores_the_apis_context(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracer = RequestTracer(sampler("always_off", 0.0), lambda _: None, root_bound=0)
    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    before = context_api.get_current()
    traced = tracer.start(scope)
    assert traced is not None
    assert traced.span is None
    current = trace.get_current_span()
    assert isinstance(current, UnsampledSpan)
    assert context_api.get_current() == {_SPAN_KEY: current}
    traced.finish(scope, 200, None)
    assert context_api.get_current() is before
    # A token from another context is logged, as the API's detach does, not raised.
    traced = tracer.start(scope)
    assert traced is not None
    contextvars.Context().run(traced.finish, scope, 200, None)
    assert "Failed to detach context" in caplog.text
    traced.finish(scope, 200, None)
    assert context_api.get_current() is before


def test_the_apis_attach_is_used_under_another_runtime_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`OTEL_PYTHON_CONTEXT` can name a runtime context other than the context variable one;
    then the tracer attaches and detaches through the API, and traces the same."""
    chosen = sampler("traceidratio", 0.5)
    spans: list[ServerSpan] = []
    expected = trace_all(
        RequestTracer(chosen, spans.append, root_bound=root_bound("traceidratio", 0.5)), spans
    )
    monkeypatch.setattr(tracing_span, "_CURRENT_CONTEXT", None)
    spans.clear()
    tracer = RequestTracer(chosen, spans.append, root_bound=root_bound("traceidratio", 0.5))
    assert trace_all(tracer, spans) == expected
