"""A trace collector that is down or hung never slows or fails requests, never holds up a
stop beyond the flush bound, and every span it costs is counted.

"Down" is a loopback port where nothing listens; "hung" is the real collector stopped with
SIGSTOP (the kernel still accepts its connections, nothing ever answers). Latency bounds are
generous on purpose: they catch a request waiting for an export (seconds), not jitter.
"""

from __future__ import annotations

import re
import time
from typing import Any

from app.tracing import SHUTDOWN_FLUSH_SECONDS

REQUESTS = 60
# Far above a request's normal latency (milliseconds), far below an export timeout (seconds).
LATENCY_BOUND_SECONDS = 1.0
# A stop with no drain: the 0.2 s accepted-connections grace, the flush bound, start-up of
# the interpreter's exit. Without the bound the SDK would wait out the exporter's 10 s
# timeout and its own 30 s.
STOP_BOUND_SECONDS = SHUTDOWN_FLUSH_SECONDS + 4.0


def metric(proc: Any, name: str, labels: str = "") -> float:
    body = proc.get("/metrics")[1].decode()
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", body, re.MULTILINE)
    assert match, f"{name}{labels} not in /metrics"
    return float(match.group(1))


def timed_requests(proc: Any, count: int = REQUESTS) -> list[float]:
    latencies = []
    for n in range(count):
        start = time.monotonic()
        status, _ = proc.get(f"/items/{n}")
        latencies.append(time.monotonic() - start)
        assert status == 200
    return latencies


def timed_stop(proc: Any) -> float:
    start = time.monotonic()
    assert proc.stop() == 0
    return time.monotonic() - start


def tracing_stopped(proc: Any) -> dict[str, Any]:
    [line] = [line for line in proc.json_lines() if line["message"] == "tracing stopped"]
    return line


def test_collector_down(start_app: Any, free_port: int) -> None:
    proc = start_app(
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port}",
        OTEL_EXPORTER_OTLP_TIMEOUT=1000,
        OTEL_BSP_SCHEDULE_DELAY=100,
        SHUTDOWN_DRAIN_SECONDS=0,
    )
    latencies = timed_requests(proc)
    assert max(latencies) < LATENCY_BOUND_SECONDS

    deadline = time.monotonic() + 30
    while metric(proc, "tracing_spans_dropped_total", '{reason="export_failed"}') == 0:
        assert time.monotonic() < deadline, "no failed export counted"
        time.sleep(0.2)
    assert metric(proc, "tracing_spans_exported_total") == 0
    assert timed_stop(proc) < STOP_BOUND_SECONDS

    totals = tracing_stopped(proc)
    assert totals["spans_exported"] == 0
    assert totals["spans_dropped_export_failed"] > 0
    # Every sampled request's span is accounted for: failed, or still unsent at the stop.
    assert totals["spans_dropped_export_failed"] + totals["spans_unsent"] == REQUESTS


def test_collector_hung_stop_is_bounded(start_app: Any, collector: Any) -> None:
    """Default exporter timeout (10 s): the export in flight when the collector hangs would
    hold a plain SDK shutdown for up to 30 s; the service stops within the flush bound."""
    proc = start_app(
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
        OTEL_BSP_SCHEDULE_DELAY=100,
        SHUTDOWN_DRAIN_SECONDS=0,
    )
    assert proc.get("/items/0")[0] == 200
    assert collector.wait_for_spans(lambda span: True)
    collector.pause()

    latencies = timed_requests(proc)
    assert max(latencies) < LATENCY_BOUND_SECONDS
    time.sleep(0.5)  # an export of the new spans is now waiting for the hung collector
    assert timed_stop(proc) < STOP_BOUND_SECONDS

    line = tracing_stopped(proc)
    assert line["level"] == "warning"
    assert line["spans_exported"] == 1
    assert line["spans_unsent"] == REQUESTS


def test_full_queue_drops_and_counts_then_recovers(start_app: Any, collector: Any) -> None:
    queue = 10
    proc = start_app(
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
        OTEL_BSP_SCHEDULE_DELAY=100,
        OTEL_BSP_MAX_QUEUE_SIZE=queue,
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE=5,
        OTEL_EXPORTER_OTLP_TIMEOUT=60_000,
        SHUTDOWN_DRAIN_SECONDS=0,
    )
    collector.pause()
    latencies = timed_requests(proc)
    assert max(latencies) < LATENCY_BOUND_SECONDS
    assert metric(proc, "tracing_spans_queued") == queue
    assert metric(proc, "tracing_spans_dropped_total", '{reason="queue_full"}') == REQUESTS - queue

    collector.resume()
    assert len(collector.wait_for_spans(lambda span: True, count=queue)) == queue
    deadline = time.monotonic() + 20
    while metric(proc, "tracing_spans_exported_total") < queue:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert metric(proc, "tracing_spans_queued") == 0
    assert proc.get("/items/1")[0] == 200
    assert len(collector.wait_for_spans(lambda span: True, count=queue + 1)) == queue + 1
