"""The hand-off of ended spans from the event loop to the OTLP exporter, in batches, on a thread
of its own.

`SpanBatcher` does for the service's spans what the SDK's `BatchSpanProcessor` did: a bounded
queue, a batch of at most `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` as soon as one is full or else every
`OTEL_BSP_SCHEDULE_DELAY`, instrumentation suppressed while exporting, and everything still
queued exported at shutdown. It is written here because handing a span to the SDK's processor
(its sampled-flag check, which builds the span context, a process-id system call for fork
detection, and two calls through the processor wrappers) cost more than all the rest of ending
a sampled request's span (bench/PROFILE.md); here the event loop appends to a deque. The
service never forks after start-up (tracing starts in the lifespan), so nothing re-creates the
thread in a child.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value

logger = logging.getLogger("app.tracing")

# How long a stop waits for the export thread before the exporter is shut down under it, as
# long as the SDK's processor waited (the caller bounds its own wait, app/tracing.py).
_JOIN_SECONDS = 30.0


class _Exporter(Protocol):
    def export(self, spans: Sequence[Any]) -> Any: ...

    def shutdown(self) -> None: ...


class _Admission(Protocol):
    def admit(self) -> bool: ...


class SpanBatcher:
    """Queues ended spans (event loop) and exports them in batches (its own thread)."""

    def __init__(
        self,
        exporter: _Exporter,
        admission: _Admission,
        *,
        schedule_delay_millis: float,
        max_export_batch_size: int,
    ) -> None:
        """`admission` bounds the queue: a span it refuses is not queued (and it counts it)."""
        self._exporter = exporter
        self._admit = admission.admit
        self._delay = schedule_delay_millis / 1000
        self._batch_size = max_export_batch_size
        self._queue: deque[Any] = deque()
        self._wake = threading.Event()
        self._export_lock = threading.Lock()
        self._stopping = False
        # Set once a stop has given up waiting for the thread: no further batch is started.
        self._abandoned = False
        self._thread = threading.Thread(target=self._run, name="tracing-export", daemon=True)
        self._thread.start()

    def on_end(self, span: Any) -> None:
        """Queue a sampled span; from the event loop's thread only."""
        if self._stopping or not self._admit():
            return
        queue = self._queue
        queue.append(span)
        if len(queue) >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    def _run(self) -> None:
        while not self._stopping:
            # Woken early: export only full batches; on the schedule: at least one batch.
            full = self._wake.wait(self._delay)
            if self._stopping:
                break
            self._wake.clear()
            self._export(at_least_one=not full, everything=False)
        self._export(at_least_one=True, everything=True)

    def _export(self, *, at_least_one: bool, everything: bool) -> None:
        queue = self._queue
        with self._export_lock:
            first = True
            while (
                queue
                and not self._abandoned
                and (everything or len(queue) >= self._batch_size or (first and at_least_one))
            ):
                first = False
                batch = [queue.popleft() for _ in range(min(self._batch_size, len(queue)))]
                token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
                try:
                    self._exporter.export(batch)
                except Exception:
                    logger.exception("span export failed")
                finally:
                    detach(token)

    def force_flush(self) -> bool:
        """Export everything queued now, from the calling thread."""
        if self._stopping:
            return False
        self._export(at_least_one=True, everything=True)
        return True

    def shutdown(self) -> None:
        """Stop taking spans, export what is queued, then shut the exporter down."""
        if self._stopping:
            return
        self._stopping = True
        self._wake.set()
        self._thread.join(_JOIN_SECONDS)
        self._abandoned = True
        self._exporter.shutdown()
