"""Tracing end to end: a real `python -m app` exports its spans to a real OpenTelemetry
Collector (`otelcol-test`); the tests read what the collector received and find the same
trace ids in the service's log lines and in its OpenMetrics exemplars."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app import __version__

# A W3C trace context as a caller upstream would send it.
UPSTREAM_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
UPSTREAM_SPAN = "00f067aa0ba902b7"

EXEMPLAR = re.compile(
    r"^http_request_duration_seconds_bucket\{(?P<labels>.*)\} \S+ "
    r'# \{trace_id="(?P<trace_id>[0-9a-f]{32})"\}'
)


def traced(start_app: Any, collector: Any, **env: object) -> Any:
    """The service exporting to `collector`, batches sent every 100 ms, no drain on stop."""
    return start_app(
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
        OTEL_BSP_SCHEDULE_DELAY=100,
        SHUTDOWN_DRAIN_SECONDS=0,
        **env,
    )


def by_path(path: str) -> Any:
    return lambda span: span["attributes"].get("url.path") == path


def access_line(proc: Any, request_id: str) -> dict[str, Any]:
    lines = [
        line
        for line in proc.json_lines()
        if line["logger"] == "app.access" and line["request_id"] == request_id
    ]
    assert len(lines) == 1, lines
    return lines[0]


def test_a_request_becomes_one_server_span_with_http_attributes_and_resource(
    start_app: Any, collector: Any
) -> None:
    proc = traced(
        start_app,
        collector,
        APP_NAME="orders",
        APP_ENV="staging",
        OTEL_RESOURCE_ATTRIBUTES="team=payments,region=eu%2Cwest",
    )
    status, _ = proc.get("/items/7", headers={"User-Agent": "probe/1", "X-Request-ID": "r-1"})
    assert status == 200

    spans = collector.wait_for_spans(by_path("/items/7"))
    assert len(spans) == 1
    span = spans[0]
    assert span["name"] == "GET /items/{item_id}"
    assert span["kind"] == 2  # SERVER
    assert not span.get("parentSpanId")
    assert span["status"].get("code", 0) != 2  # not ERROR
    assert span["scope"]["name"] == "fastapi"
    assert span["attributes"] == {
        "http.request.method": "GET",
        "http.route": "/items/{item_id}",
        "http.response.status_code": 200,
        "url.path": "/items/7",
        "url.scheme": "http",
        "network.protocol.version": "1.1",
        "server.address": "127.0.0.1",
        "server.port": proc.port,
        "client.address": "127.0.0.1",
        "user_agent.original": "probe/1",
    }
    resource = span["resource"]
    assert resource["service.name"] == "orders"
    assert resource["service.version"] == __version__
    assert resource["deployment.environment.name"] == "staging"
    assert resource["team"] == "payments"
    assert resource["region"] == "eu,west"
    assert resource["telemetry.sdk.language"] == "python"
    assert re.fullmatch(r"[0-9a-f-]{36}", resource["service.instance.id"])

    line = access_line(proc, "r-1")
    assert (line["trace_id"], line["span_id"]) == (span["traceId"], span["spanId"])


def test_incoming_trace_context_is_continued(start_app: Any, collector: Any) -> None:
    proc = traced(start_app, collector)
    headers = {
        "traceparent": f"00-{UPSTREAM_TRACE}-{UPSTREAM_SPAN}-01",
        "tracestate": "vendor=opaque",
        "X-Request-ID": "r-2",
    }
    assert proc.get("/", headers=headers)[0] == 200

    [span] = collector.wait_for_spans(by_path("/"))
    assert span["traceId"] == UPSTREAM_TRACE
    assert span["parentSpanId"] == UPSTREAM_SPAN
    assert span["traceState"] == "vendor=opaque"
    assert span["name"] == "GET /"
    line = access_line(proc, "r-2")
    assert line["trace_id"] == UPSTREAM_TRACE
    assert line["span_id"] == span["spanId"] != UPSTREAM_SPAN


def test_status_codes_and_unmatched_routes(start_app: Any, collector: Any) -> None:
    proc = traced(start_app, collector)
    assert proc.get("/nowhere")[0] == 404
    assert proc.get("/items/not-a-number")[0] == 422

    [missing] = collector.wait_for_spans(by_path("/nowhere"))
    [invalid] = collector.wait_for_spans(by_path("/items/not-a-number"))
    # No route matched: the span is named by the method alone and has no http.route.
    assert missing["name"] == "GET"
    assert "http.route" not in missing["attributes"]
    assert missing["attributes"]["http.response.status_code"] == 404
    assert invalid["name"] == "GET /items/{item_id}"
    assert invalid["attributes"]["http.response.status_code"] == 422
    # 4xx is the client's error: a server span stays unset (semantic conventions).
    for span in (missing, invalid):
        assert span["status"].get("code", 0) == 0
        assert "error.type" not in span["attributes"]


def test_latency_exemplars_carry_the_trace_id_in_openmetrics_only(
    start_app: Any, collector: Any
) -> None:
    proc = traced(start_app, collector)
    assert proc.get("/items/1", headers={"X-Request-ID": "r-3"})[0] == 200
    [span] = collector.wait_for_spans(by_path("/items/1"))

    status, body = proc.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert status == 200
    exemplars = [
        match
        for match in map(EXEMPLAR.match, body.decode().splitlines())
        if match and 'endpoint="/items/{item_id}"' in match["labels"]
    ]
    assert [match["trace_id"] for match in exemplars] == [span["traceId"]]
    assert access_line(proc, "r-3")["trace_id"] == span["traceId"]

    status, text = proc.get("/metrics")
    assert status == 200
    assert b"trace_id" not in text
    assert b" # {" not in text


def test_probes_are_not_traced_unless_asked(start_app: Any, collector: Any) -> None:
    proc = traced(start_app, collector)
    for path in ("/health", "/readiness", "/metrics", "/items/2"):
        assert proc.get(path)[0] == 200
    assert proc.stop() == 0  # flushes every queued span

    paths = {span["attributes"]["url.path"] for span in collector.spans()}
    assert paths == {"/items/2"}


def test_tracing_probes_traces_them_and_their_log_lines(
    start_app: Any, collector: Any, free_port: int
) -> None:
    """TRACING_PROBES=true: probes get spans, and a log line written while serving one (a
    failed readiness check, here of a port where nothing listens) carries its trace id."""
    proc = traced(
        start_app,
        collector,
        TRACING_PROBES="true",
        READINESS_DEPENDENCIES=f"tcp://127.0.0.1:{free_port}",
    )
    assert proc.get("/readiness")[0] == 503
    assert proc.get("/metrics")[0] == 200

    [readiness] = collector.wait_for_spans(by_path("/readiness"))
    assert collector.wait_for_spans(by_path("/metrics"))
    assert readiness["name"] == "GET /readiness"
    assert readiness["attributes"]["http.response.status_code"] == 503
    assert readiness["status"]["code"] == 2  # ERROR: a 5xx of the server
    failures = [line for line in proc.json_lines() if line["message"] == "readiness check failed"]
    assert failures
    assert {(line["trace_id"], line["span_id"]) for line in failures} == {
        (readiness["traceId"], readiness["spanId"])
    }


def test_parent_based_ratio_sampler(start_app: Any, collector: Any) -> None:
    """Ratio 0: no trace starts here, but a caller's sampled trace is still followed; the
    unsampled requests leave no trace id in the logs and no exemplar."""
    proc = traced(
        start_app,
        collector,
        OTEL_TRACES_SAMPLER="parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG="0",
    )
    for n in range(20):
        assert proc.get(f"/items/{n}", headers={"X-Request-ID": f"own-{n}"})[0] == 200
    headers = {"traceparent": f"00-{UPSTREAM_TRACE}-{UPSTREAM_SPAN}-01", "X-Request-ID": "up"}
    assert proc.get("/items/99", headers=headers)[0] == 200
    _, exposition = proc.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert proc.stop() == 0

    assert [span["traceId"] for span in collector.spans()] == [UPSTREAM_TRACE]
    assert access_line(proc, "up")["trace_id"] == UPSTREAM_TRACE
    for n in range(20):
        assert "trace_id" not in access_line(proc, f"own-{n}")
    exemplar_ids = {
        m["trace_id"] for m in map(EXEMPLAR.match, exposition.decode().splitlines()) if m
    }
    assert exemplar_ids == {UPSTREAM_TRACE}


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"},
        {"OTEL_TRACES_EXPORTER": "none"},
    ],
    ids=["unset", "sdk-disabled", "exporter-none"],
)
def test_off_sends_nothing_and_logs_no_trace_ids(
    start_app: Any, collector: Any, env: dict[str, str]
) -> None:
    """Off (by default, or switched off) the service exports nothing even with a collector
    named and a sampled caller; stopping would flush any queued span."""
    endpoint = {} if not env else {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint}
    proc = start_app(SHUTDOWN_DRAIN_SECONDS=0, **endpoint, **env)
    headers = {"traceparent": f"00-{UPSTREAM_TRACE}-{UPSTREAM_SPAN}-01", "X-Request-ID": "r-4"}
    assert proc.get("/items/3", headers=headers)[0] == 200
    _, exposition = proc.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert proc.stop() == 0

    assert collector.spans() == []
    assert "trace_id" not in access_line(proc, "r-4")
    assert b"trace_id" not in exposition
    assert b"tracing_spans" not in exposition
    assert not any(line["logger"] == "app.tracing" for line in proc.json_lines())


def test_gzip_compression_reaches_the_collector(start_app: Any, collector: Any) -> None:
    proc = traced(start_app, collector, OTEL_EXPORTER_OTLP_TRACES_COMPRESSION="gzip")
    assert proc.get("/items/5")[0] == 200
    assert collector.wait_for_spans(by_path("/items/5"))


def test_per_signal_endpoint_is_used_as_is(start_app: Any, collector: Any) -> None:
    """OTEL_EXPORTER_OTLP_TRACES_ENDPOINT wins over the base endpoint (here a port where
    nothing listens) and gets no path appended."""
    proc = start_app(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{collector.endpoint}/v1/traces",
        OTEL_BSP_SCHEDULE_DELAY=100,
        SHUTDOWN_DRAIN_SECONDS=0,
    )
    assert proc.get("/items/6")[0] == 200
    assert collector.wait_for_spans(by_path("/items/6"))
    metrics = proc.get("/metrics")[1].decode()
    assert "tracing_spans_exported_total 1.0" in metrics


def test_start_up_and_stop_are_logged_with_the_counts(start_app: Any, collector: Any) -> None:
    proc = traced(start_app, collector)
    for n in range(3):
        assert proc.get(f"/items/{n}")[0] == 200
    assert proc.stop() == 0

    lines = [line for line in proc.json_lines() if line["logger"] == "app.tracing"]
    assert [line["message"] for line in lines] == ["tracing on", "tracing stopped"]
    assert lines[0]["endpoint"] == f"{collector.endpoint}/v1/traces"
    assert lines[1]["spans_exported"] == 3
    assert lines[1]["spans_unsent"] == 0
    assert len(collector.spans()) == 3
