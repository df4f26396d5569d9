"""One log line per event on stdout: JSON (default) or escaped text, for app and uvicorn loggers.

Every record becomes a single line: orjson escapes newlines and control characters inside
values, so a hostile path or header can never forge a second log entry. The request id of
the request being served (see `REQUEST_ID`) is attached to every record logged inside it.
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from itertools import islice
from typing import Any, TextIO

import orjson

# Set by the HTTP middleware for the duration of a request; read by the formatters.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)

ACCESS_LOGGER = "app.access"

# Attributes every LogRecord has; anything else on a record came from `extra=` and is a field.
_BASE_ATTRIBUTES = vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
_RESERVED = frozenset(_BASE_ATTRIBUTES | {"message", "asctime", "color_message", "taskName"})
# LogRecord.__init__ sets its attributes first and makeRecord adds `extra` after them, so
# the fields start at this position; skipping the rest keeps formatting cheap per line.
_FIRST_EXTRA = len(_BASE_ATTRIBUTES)


class _Clock:
    """RFC 3339 UTC timestamps with milliseconds; the seconds part is formatted once per second."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def format(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{int((created - second) * 1000):03d}Z"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    attributes = islice(vars(record).items(), _FIRST_EXTRA, None)
    return {key: value for key, value in attributes if key not in _RESERVED}


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON object: timestamp, level, logger, message, then extra fields."""

    def __init__(self) -> None:
        super().__init__()
        self._clock = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": self._clock.format(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(_fields(record))
        if "request_id" not in payload:
            request_id = REQUEST_ID.get()
            if request_id is not None:
                payload["request_id"] = request_id
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        # default=str: a field of an unexpected type is logged as text rather than lost.
        return orjson.dumps(payload, default=str).decode()


def _escape(text: str) -> str:
    # Same guarantee as JSON: one record, one line, whatever the message contains.
    return text.encode("unicode_escape").decode("ascii")


class TextFormatter(logging.Formatter):
    """Human-oriented single-line format for local development (LOG_FORMAT=text)."""

    def __init__(self) -> None:
        super().__init__()
        self._clock = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        request_id = REQUEST_ID.get()
        if request_id is not None:
            fields.setdefault("request_id", request_id)
        extras = "".join(f" {key}={_escape(str(value))}" for key, value in fields.items())
        line = (
            f"{self._clock.format(record.created)} {record.levelname:<8} {record.name}: "
            f"{_escape(record.getMessage())}{extras}"
        )
        if record.exc_info:
            line += " exception=" + _escape(self.formatException(record.exc_info))
        return line


def configure_logging(level: str, fmt: str, stream: TextIO | None = None) -> None:
    """Send every logger (ours and uvicorn's) through one handler on stdout in `fmt`.

    Called once at start-up by `python -m app`; tests pass their own `stream`.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's loggers keep no handlers of their own and propagate to ours. Its access
    # logger stays silent: the middleware writes richer access lines (duration, request id).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    # None of our formats prints thread, process or process-name fields; not collecting
    # them makes every record (one per request for access lines) cheaper to create.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # Python warnings become log records too, so they are JSON lines like everything else.
    logging.captureWarnings(True)
