"""The hot path's shortcuts give what the general machinery they replace would give.

Each per-request shortcut (bench/PROFILE.md) is checked here against the library code it
stands in for: the request metrics against prometheus-client's own Counter and Histogram,
the direct access line against the JSON formatter, the cached timestamp against strftime,
and the route order against FastAPI's.
"""

from __future__ import annotations

import calendar
import logging
import random
import re
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder

from app.logging import _Clock
from app.metrics import DURATION_BUCKETS, HttpMetrics

AppFactory = Callable[..., FastAPI]
Serve = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Capture = Callable[..., Any]

REQUEST_FAMILIES = ("http_requests", "http_request_duration_seconds")
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
# An exemplar's timestamp is the time it was recorded, different between the two registries.
EXEMPLAR_TIMESTAMP = re.compile(r"(# \{trace_id=\"[0-9a-f]{32}\"\} \S+) \S+$")


def _request_lines(registry: CollectorRegistry, accept: str) -> list[str]:
    encoder, _ = choose_encoder(accept)
    text = encoder(registry).decode()
    names = tuple(f"{family}_" for family in REQUEST_FAMILIES) + tuple(
        f"# {kind} {family} " for family in REQUEST_FAMILIES for kind in ("HELP", "TYPE")
    )
    return sorted(
        EXEMPLAR_TIMESTAMP.sub(r"\1", line)
        for line in text.splitlines()
        if line.startswith(names) and not line.startswith("http_requests_in_progress")
    )


def test_request_metrics_expose_what_a_counter_and_a_histogram_would() -> None:
    reference = CollectorRegistry()
    counter = Counter(
        "http_requests_total",
        "HTTP requests by method, route template and status code.",
        ("method", "endpoint", "status"),
        registry=reference,
    )
    histogram = Histogram(
        "http_request_duration_seconds",
        "Time from request start to the end of the response, by method and route template.",
        ("method", "endpoint"),
        buckets=DURATION_BUCKETS,
        registry=reference,
    )
    metrics = HttpMetrics(version="1.2.3", env="test")
    rng = random.Random(15)  # noqa: S311 - reproducible test data, not secrets
    # Every bound exactly, just above it, zero, and past the last bound (+Inf).
    edges = [0.0, *DURATION_BUCKETS, *(b + 1e-9 for b in DURATION_BUCKETS), 11.0, 60.0]
    for i in range(3000):
        method = rng.choice(["GET", "POST", "OTHER"])
        endpoint = rng.choice(["/", "/items/{item_id}", "unmatched"])
        status = rng.choice([200, 404, 422, 500])
        seconds = rng.choice(edges) if i % 2 else rng.random() * 3
        exemplar = {"trace_id": f"{i:032x}"} if i % 7 == 0 else None
        metrics.observe(method, endpoint, status, seconds, exemplar)
        counter.labels(method, endpoint, str(status)).inc()
        histogram.labels(method, endpoint).observe(seconds, exemplar)

    for accept in ("", OPENMETRICS):
        ours = _request_lines(metrics.registry, accept)
        theirs = [
            line
            for line in _request_lines(reference, accept)
            if "_created" not in line  # disabled in the service (python -m app)
        ]
        # 9 histograms of 12 buckets, count and sum; 36 counters (3 x 3 x 4 label values).
        assert len(ours) >= 9 * 14 + 36
        assert ours == theirs
    assert any(" # {trace_id=" in line for line in _request_lines(metrics.registry, OPENMETRICS))


@pytest.mark.anyio
async def test_a_scrape_sees_requests_counted_while_serving(
    serve: Serve, app_factory: AppFactory
) -> None:
    async with serve(app_factory()) as client:
        await client.get("/items/1")
        first = (await client.get("/metrics")).text
        await client.get("/items/2")
        await client.get("/nope")
        second = (await client.get("/metrics")).text
    one = 'http_requests_total{endpoint="/items/{item_id}",method="GET",status="200"} 1.0'
    two = 'http_requests_total{endpoint="/items/{item_id}",method="GET",status="200"} 2.0'
    assert one in first.splitlines()
    assert two in second.splitlines()
    assert 'http_requests_total{endpoint="unmatched",method="GET",status="404"} 1.0' in second
    assert (
        'http_request_duration_seconds_count{endpoint="/items/{item_id}",method="GET"} 2.0'
        in second.splitlines()
    )


@pytest.mark.anyio
async def test_direct_access_line_is_the_line_the_json_formatter_writes(
    serve: Serve, app_factory: AppFactory, capture_logs: Capture
) -> None:
    logs = capture_logs()
    seen: list[logging.LogRecord] = []

    def remember(record: logging.LogRecord) -> bool:
        seen.append(record)
        return True

    access = logging.getLogger("app.access")
    async with serve(app_factory()) as client:
        await client.get("/items/7", headers={"X-Request-ID": "direct"})
        # A filter on the access logger: lines go through logging and its JsonFormatter.
        access.addFilter(remember)
        try:
            await client.get("/items/7", headers={"X-Request-ID": "direct"})
        finally:
            access.removeFilter(remember)
    direct, formatted = [line for line in logs.lines() if '"logger":"app.access"' in line]
    assert len(seen) == 1  # only the second line went through logging
    # Byte for byte, but for the timestamp and the measured duration.
    mask = re.compile(r'"timestamp":"[^"]+"|"duration_ms":[0-9.e-]+')
    assert mask.sub("", direct) == mask.sub("", formatted)
    assert list(logs.access()[0]) == list(logs.access()[1])


def test_cached_timestamps_match_strftime_across_milliseconds_and_seconds() -> None:
    clock = _Clock()
    start = calendar.timegm((2026, 11, 29, 23, 59, 59)) + 0.9985
    created = [start + step * 0.00025 for step in range(40)] + [start - 3600.0, start]
    for value in created:
        millis = int(value * 1000)
        second, fraction = divmod(millis, 1000)
        expected = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + f".{fraction:03d}Z"
        assert clock.format(value) == expected
    assert clock.format(start + 0.002).startswith("2026-11-30T00:00:00.000")


def test_business_routes_are_matched_first_and_docs_last(app_factory: AppFactory) -> None:
    paths = [route.path for route in app_factory().router.routes]
    assert paths[:2] == ["/", "/items/{item_id}"]
    assert set(paths[2:5]) == {"/health", "/readiness", "/metrics"}
    assert set(paths[5:]) == {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
