"""Prometheus metrics: a registry per app instance, and the request metrics built at scrape time.

`HttpMetrics` owns the service's `CollectorRegistry`. The request middleware
(app/middleware.py) counts each request into plain counters through `HttpMetrics.observe`,
and `_RequestCollector` turns them into `http_requests_total` and
`http_request_duration_seconds` when Prometheus scrapes.

Label values come from bounded sets only: `endpoint` is the matched route template (or
"unmatched"), `method` is a standard method (or "OTHER"), `status` is what the app sent.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Gauge,
    gc_collector,
    platform_collector,
    process_collector,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar
from prometheus_client.utils import floatToGoString

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_REQUESTS_HELP = "HTTP requests by method, route template and status code."
_DURATION_HELP = "Time from request start to the end of the response, by method and route template."
# The `le` label of each bucket as prometheus-client's Histogram writes it, +Inf last.
_BUCKET_LABELS = (*(floatToGoString(bound) for bound in DURATION_BUCKETS), "+Inf")


class _RouteStats:
    """Requests by status and the latency histogram of one (method, endpoint)."""

    __slots__ = ("buckets", "exemplars", "statuses", "sum")

    def __init__(self) -> None:
        self.statuses: dict[int, int] = {}
        # Not cumulative: bucket i counts the observations x with bound i-1 < x <= bound i.
        self.buckets = [0] * len(_BUCKET_LABELS)
        # The latest exemplar of each bucket as a plain (labels, value, timestamp) tuple; the
        # scrape makes prometheus-client's Exemplar of it (a named tuple costs more to build).
        self.exemplars: list[tuple[dict[str, str], float, float] | None] = [None] * len(
            _BUCKET_LABELS
        )
        self.sum = 0.0


class _RequestCollector(Collector):
    """`http_requests_total` and `http_request_duration_seconds`, built at scrape time.

    prometheus-client's Counter and Histogram children lock per update and take five
    Python calls for the two updates a request makes; under load that was 1-3 % of a
    request (bench/PROFILE.md). The middleware updates these plain counters instead,
    always from the event loop's thread, and the families below (prometheus-client's
    custom-collector types) turn them into exactly the samples a Counter and a Histogram
    with these labels would expose.
    """

    def __init__(self, stats: dict[tuple[str, str], _RouteStats]) -> None:
        self._stats = stats

    def describe(self) -> list[Metric]:
        return [
            CounterMetricFamily("http_requests", _REQUESTS_HELP, labels=()),
            HistogramMetricFamily("http_request_duration_seconds", _DURATION_HELP, labels=()),
        ]

    def collect(self) -> list[Metric]:
        requests = CounterMetricFamily(
            "http_requests", _REQUESTS_HELP, labels=("method", "endpoint", "status")
        )
        duration = HistogramMetricFamily(
            "http_request_duration_seconds", _DURATION_HELP, labels=("method", "endpoint")
        )
        # list(): a snapshot taken without running Python code, so a scrape from another
        # thread never iterates a dict the event loop is growing.
        for (method, endpoint), stats in list(self._stats.items()):
            for status, count in list(stats.statuses.items()):
                requests.add_metric((method, endpoint, str(status)), float(count))
            buckets: list[Any] = []
            cumulative = 0.0
            for label, count, exemplar in zip(
                _BUCKET_LABELS, list(stats.buckets), list(stats.exemplars), strict=True
            ):
                cumulative += count
                if exemplar:
                    buckets.append((label, cumulative, Exemplar(*exemplar)))
                else:
                    buckets.append((label, cumulative))
            duration.add_metric((method, endpoint), buckets, stats.sum)
        return [requests, duration]


class HttpMetrics:
    """The service's metrics in their own `CollectorRegistry`, so app instances never clash."""

    def __init__(self, *, version: str, env: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        process_collector.ProcessCollector(registry=self.registry)
        gc_collector.GCCollector(registry=self.registry)
        platform_collector.PlatformCollector(registry=self.registry)
        # Keyed by (method, endpoint): bounded sets, see the module docstring.
        self._stats: dict[tuple[str, str], _RouteStats] = {}
        self.registry.register(_RequestCollector(self._stats))
        self.in_progress = Gauge(
            "http_requests_in_progress",
            "HTTP requests being served right now.",
            registry=self.registry,
        )
        # Counted in a plain int by the middleware (all requests run on the event loop's
        # thread) and read at scrape time: two lock round-trips less per request.
        self.in_flight = 0
        self.in_progress.set_function(lambda: self.in_flight)
        Gauge(
            "app_info",
            "Build information of the running service; the value is always 1.",
            ("version", "env"),
            registry=self.registry,
        ).labels(version=version, env=env).set(1)

    def observe(
        self,
        method: str,
        endpoint: str,
        status: int,
        seconds: float,
        exemplar: dict[str, str] | None = None,
    ) -> None:
        """Count one request and its latency. Called from the event loop's thread only."""
        stats = self._stats.get((method, endpoint))
        if stats is None:
            stats = self._stats[(method, endpoint)] = _RouteStats()
        statuses = stats.statuses
        statuses[status] = statuses.get(status, 0) + 1
        # The first bucket whose bound is >= seconds, as Histogram.observe picks it.
        index = bisect_left(DURATION_BUCKETS, seconds)
        stats.buckets[index] += 1
        stats.sum += seconds
        if exemplar:
            # The trace of a sampled request; shown only in the OpenMetrics format.
            stats.exemplars[index] = (exemplar, seconds, time.time())

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """Render the registry as Prometheus text, or OpenMetrics when `accept` asks for it."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type
