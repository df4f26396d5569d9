"""Distributed tracing: the settings' sampler, resource and OTLP export around the service's
own request spans.

The request middleware makes one server span per request (app/tracing_span.py: named
`GET /items/{item_id}`, HTTP semantic-convention attributes, incoming W3C trace context
continued, as FastAPI's own OpenTelemetry hooks made them, at a fraction of their cost); this
module sets up what the `OTEL_*` variables describe around it: the sampler, the resource, and
the export. It is imported only when tracing is on (`Settings.tracing_enabled`): a service
without tracing never loads the SDK.

Spans leave in the background, in batches, from a bounded queue (app/tracing_export.py, on a
thread of its own, through the SDK's OTLP/HTTP exporter, with the request encoded by
app/otlp.py). A request never waits for the collector: a full queue drops the span instead,
and every dropped span is counted in `tracing_spans_dropped_total`. Stopping waits at most
`SHUTDOWN_FLUSH_SECONDS` for the spans still queued.

Over 250 lines because the span accounting (a processor and an exporter wrapper feeding
three metrics) belongs with the export it wraps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence

import fastapi
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    ParentBasedTraceIdRatio,
    Sampler,
    TraceIdRatioBased,
)
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.health import PROBE_ENDPOINTS
from app.otlp import HandEncodedSpanExporter, SpanEncoder
from app.settings import Settings
from app.tracing_export import SpanBatcher
from app.tracing_span import RequestTracer, ServerSpan

logger = logging.getLogger("app.tracing")

# The longest a stop waits for queued spans to be exported, after the server has finished
# its requests; it fits in the chart's shutdown margin (shutdown.marginSeconds, 5 s).
SHUTDOWN_FLUSH_SECONDS = 2.0
# The instrumentation scope of the spans: FastAPI's, as when its own hooks made them.
SCOPE_NAME = "fastapi"
SCOPE_SCHEMA_URL = "https://opentelemetry.io/schemas/1.44.0"


def sampler(name: str, ratio: float) -> Sampler:
    """The sampler an `OTEL_TRACES_SAMPLER` name stands for."""
    samplers: dict[str, Sampler] = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "traceidratio": TraceIdRatioBased(ratio),
        "parentbased_always_on": ParentBased(ALWAYS_ON),
        "parentbased_always_off": ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": ParentBasedTraceIdRatio(ratio),
    }
    return samplers[name]


def root_bound(name: str, ratio: float) -> int:
    """The `OTEL_TRACES_SAMPLER` sampler's decision for a request without a parent, as a bound:
    it samples the trace id `t` exactly when `t & 0xffffffffffffffff < bound`, with no trace
    state (the parent-based samplers hand such a request to their root sampler; the ratio
    sampler compares the trace id's low 64 bits with `TraceIdRatioBased.get_bound_for_rate`).

    The request tracer decides with it instead of calling the sampler, whose call and result
    object were about a third of what tracing cost a request it did not sample.
    """
    if name in ("always_on", "parentbased_always_on"):
        return 1 << 64
    if name in ("always_off", "parentbased_always_off"):
        return 0
    return TraceIdRatioBased.get_bound_for_rate(ratio)


def resource_attributes(settings: Settings) -> dict[str, str]:
    """Service name, version and environment from the service's own settings, overridden by
    `OTEL_RESOURCE_ATTRIBUTES`, then by `OTEL_SERVICE_NAME` (the specification's order)."""
    attributes = {
        "service.name": settings.app_name,
        "service.version": settings.app_version,
        "deployment.environment.name": settings.app_env,
    }
    attributes.update(settings.otel_resource_attributes)
    if settings.otel_service_name:
        attributes["service.name"] = settings.otel_service_name
    return attributes


class SpanAccounting(Collector):
    """Spans admitted to the queue, accepted by the collector, or lost (by reason), kept as
    plain counts (the event loop and the export thread update them under one lock) and
    exposed as Prometheus series of the app's registry."""

    def __init__(self, registry: CollectorRegistry, capacity: int) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        # Spans in the queue or in the batch being exported: never more than `capacity`.
        self.pending = 0
        self.exported = 0
        self.queue_full = 0
        self.export_failed = 0
        registry.register(self)

    def admit(self) -> bool:
        """Reserve a place for one span; False (and counted as dropped) when the queue is full."""
        with self._lock:
            if self.pending >= self.capacity:
                self.queue_full += 1
                return False
            self.pending += 1
            return True

    def settle(self, count: int, *, delivered: bool) -> None:
        with self._lock:
            self.pending -= count
            if delivered:
                self.exported += count
            else:
                self.export_failed += count

    def totals(self) -> dict[str, int]:
        with self._lock:
            return {
                "spans_exported": self.exported,
                "spans_dropped_queue_full": self.queue_full,
                "spans_dropped_export_failed": self.export_failed,
                "spans_unsent": self.pending,
            }

    def collect(self) -> Iterator[Metric]:
        totals = self.totals()
        yield CounterMetricFamily(
            "tracing_spans_exported",
            "Spans the trace collector accepted.",
            value=totals["spans_exported"],
        )
        dropped = CounterMetricFamily(
            "tracing_spans_dropped",
            "Sampled spans never delivered: queue_full (the collector could not keep up), "
            "export_failed (the collector refused them or did not answer in time).",
            labels=("reason",),
        )
        dropped.add_metric(("queue_full",), totals["spans_dropped_queue_full"])
        dropped.add_metric(("export_failed",), totals["spans_dropped_export_failed"])
        yield dropped
        yield GaugeMetricFamily(
            "tracing_spans_queued",
            "Spans waiting to be exported; the queue holds at most OTEL_BSP_MAX_QUEUE_SIZE.",
            value=totals["spans_unsent"],
        )


class _AccountedExporter(SpanExporter):
    """The OTLP exporter, with each batch's outcome counted."""

    def __init__(self, exporter: SpanExporter, accounting: SpanAccounting) -> None:
        self._exporter = exporter
        self._accounting = accounting

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = SpanExportResult.FAILURE
        try:
            result = self._exporter.export(spans)
        finally:
            self._accounting.settle(len(spans), delivered=result is SpanExportResult.SUCCESS)
        return result

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


class Tracing:
    """The tracing of one app instance: built by `create_app` (which hands `request_tracer`
    to the request middleware), started and stopped by the app's lifespan (the export thread
    runs only in between)."""

    def __init__(self, settings: Settings, registry: CollectorRegistry) -> None:
        self._settings = settings
        self.resource = Resource.create(resource_attributes(settings))
        self.accounting = SpanAccounting(registry, settings.otel_bsp_max_queue_size)
        name, ratio = settings.otel_traces_sampler, settings.otel_traces_sampler_arg
        self.request_tracer = RequestTracer(
            sampler(name, ratio),
            self._on_end,
            exclude=frozenset() if settings.tracing_probes else PROBE_ENDPOINTS,
            root_bound=root_bound(name, ratio),
        )
        self._processor: SpanBatcher | None = None

    def _on_end(self, span: ServerSpan) -> None:
        processor = self._processor
        if processor is not None:
            processor.on_end(span)

    def start(self) -> None:
        settings = self._settings
        encoder = SpanEncoder(
            self.resource.attributes,
            self.resource.schema_url,
            scope_name=SCOPE_NAME,
            scope_version=fastapi.__version__,
            scope_schema_url=SCOPE_SCHEMA_URL,
        )
        exporter = HandEncodedSpanExporter(
            encoder,
            endpoint=settings.otlp_traces_endpoint,
            headers=settings.otlp_traces_headers,
            timeout=settings.otlp_traces_timeout_seconds,
            compression=Compression.Gzip
            if settings.otlp_traces_compression == "gzip"
            else Compression.NoCompression,
        )
        self._processor = SpanBatcher(
            _AccountedExporter(exporter, self.accounting),
            self.accounting,
            schedule_delay_millis=settings.otel_bsp_schedule_delay,
            max_export_batch_size=settings.otel_bsp_max_export_batch_size,
        )
        logger.info(
            "tracing on",
            extra={
                "endpoint": settings.otlp_traces_endpoint,
                "sampler": settings.otel_traces_sampler,
                "sampler_ratio": settings.otel_traces_sampler_arg,
            },
        )

    async def shutdown(self) -> None:
        """Export what is queued, for at most SHUTDOWN_FLUSH_SECONDS; then give up on the rest.

        The batcher's shutdown may wait far longer (each batch gets the exporter's timeout
        and retries), so it runs in a daemon thread that this coroutine stops waiting for.
        """
        processor = self._processor
        if processor is None:
            return
        self._processor = None
        loop = asyncio.get_running_loop()
        finished = loop.create_future()

        def run() -> None:
            try:
                processor.shutdown()
            finally:
                # RuntimeError: the loop is gone, nobody is waiting any more.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_resolve, finished)

        threading.Thread(target=run, name="tracing-shutdown", daemon=True).start()
        try:
            await asyncio.wait_for(asyncio.shield(finished), SHUTDOWN_FLUSH_SECONDS)
        except TimeoutError:
            # The export thread may still be writing; keep it off stdout from now on.
            logging.getLogger("opentelemetry").setLevel(logging.CRITICAL + 1)
        totals = self.accounting.totals()
        level = logging.WARNING if totals["spans_unsent"] else logging.INFO
        logger.log(level, "tracing stopped", extra=totals)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
