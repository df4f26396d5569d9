"""The span batcher (app/tracing_export.py): the queue's bound, full batches at once, the rest
on the schedule, everything at shutdown, export on its own thread only."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, get_value

from app.tracing_export import SpanBatcher


class Exporter:
    def __init__(self, fail_first: bool = False) -> None:
        self.batches: list[list[Any]] = []
        self.threads: set[str] = set()
        self.suppressed: list[Any] = []
        self.shut = False
        self._fail = fail_first

    def export(self, spans: Sequence[Any]) -> None:
        self.threads.add(threading.current_thread().name)
        self.suppressed.append(get_value(_SUPPRESS_INSTRUMENTATION_KEY))
        if self._fail:
            self._fail = False
            raise RuntimeError("collector gone")
        self.batches.append(list(spans))

    def shutdown(self) -> None:
        self.shut = True


class Admission:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.refused = 0

    def admit(self) -> bool:
        if self.capacity == 0:
            self.refused += 1
            return False
        self.capacity -= 1
        return True


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_full_batch_leaves_at_once_from_the_export_thread() -> None:
    exporter = Exporter()
    batcher = SpanBatcher(
        exporter, Admission(100), schedule_delay_millis=60_000, max_export_batch_size=4
    )
    for span in range(10):
        batcher.on_end(span)
    wait_for(lambda: len(exporter.batches) == 2)
    assert exporter.batches == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert exporter.threads == {"tracing-export"}
    assert exporter.suppressed == [True, True]
    batcher.shutdown()
    assert exporter.batches[2:] == [[8, 9]]
    assert exporter.shut


def test_the_rest_leaves_on_the_schedule() -> None:
    exporter = Exporter()
    batcher = SpanBatcher(
        exporter, Admission(100), schedule_delay_millis=50, max_export_batch_size=4
    )
    batcher.on_end("a")
    wait_for(lambda: exporter.batches == [["a"]])
    batcher.shutdown()


def test_a_refused_span_is_not_queued() -> None:
    exporter = Exporter()
    admission = Admission(3)
    batcher = SpanBatcher(
        exporter, admission, schedule_delay_millis=60_000, max_export_batch_size=10
    )
    for span in range(5):
        batcher.on_end(span)
    assert admission.refused == 2
    assert batcher.force_flush()
    assert exporter.batches == [[0, 1, 2]]
    batcher.shutdown()
    batcher.on_end(9)  # after the stop: ignored, never admitted
    assert admission.refused == 2
    assert not batcher.force_flush()
    assert exporter.batches == [[0, 1, 2]]


def test_a_failed_export_is_logged_and_the_thread_goes_on(caplog: Any) -> None:
    exporter = Exporter(fail_first=True)
    batcher = SpanBatcher(
        exporter, Admission(100), schedule_delay_millis=60_000, max_export_batch_size=2
    )
    for span in range(4):
        batcher.on_end(span)
    wait_for(lambda: exporter.batches == [[2, 3]])
    batcher.shutdown()
    assert "span export failed" in caplog.text
