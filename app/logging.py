"""One log line per event on stdout: JSON (default) or escaped text, for app and uvicorn loggers.

Every record becomes a single line: orjson escapes newlines and control characters inside
values, so a hostile path or header can never forge a second log entry. The request id of
the request being served (see `REQUEST_ID`) is attached to every record logged inside it,
and so are its `trace_id` and `span_id` while its span is recording (see `TRACE_IDS`).

Over 250 lines because the two formatters, the per-request access line and the cached
clock they share are one concern: what a log line looks like.
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
# Set by the HTTP middleware while the request's span is recording: (trace_id, span_id) in
# the W3C hex form, as the trace collector and the exemplars show them.
TRACE_IDS: ContextVar[tuple[str, str] | None] = ContextVar("trace_ids", default=None)

ACCESS_LOGGER = "app.access"

# Attributes every LogRecord has; anything else on a record came from `extra=` and is a field.
_BASE_ATTRIBUTES = vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
_RESERVED = frozenset(_BASE_ATTRIBUTES | {"message", "asctime", "color_message", "taskName"})
# LogRecord.__init__ sets its attributes first and makeRecord adds `extra` after them, so
# the fields start at this position; skipping the rest keeps formatting cheap per line.
_FIRST_EXTRA = len(_BASE_ATTRIBUTES)


class _Clock:
    """RFC 3339 UTC timestamps with milliseconds.

    The seconds part is formatted once per second and the whole string once per
    millisecond: under load, many lines in a row share their millisecond.
    """

    __slots__ = ("_millis", "_prefix", "_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""
        self._millis = -1
        self._text = ""

    def format(self, created: float) -> str:
        millis = int(created * 1000)
        if millis != self._millis:
            second, fraction = divmod(millis, 1000)
            if second != self._second:
                self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
                self._second = second
            self._text = f"{self._prefix}.{fraction:03d}Z"
            self._millis = millis
        return self._text


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
        if "trace_id" not in payload:
            trace_ids = TRACE_IDS.get()
            if trace_ids is not None:
                payload["trace_id"], payload["span_id"] = trace_ids
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
        trace_ids = TRACE_IDS.get()
        if trace_ids is not None:
            fields.setdefault("trace_id", trace_ids[0])
            fields.setdefault("span_id", trace_ids[1])
        extras = "".join(f" {key}={_escape(str(value))}" for key, value in fields.items())
        line = (
            f"{self._clock.format(record.created)} {record.levelname:<8} {record.name}: "
            f"{_escape(record.getMessage())}{extras}"
        )
        if record.exc_info:
            line += " exception=" + _escape(self.formatException(record.exc_info))
        return line


class _DirectJsonLines:
    """Writes access lines straight to the JSON handler's stream, bypassing `logging`.

    An access line is written for nearly every request, and going through `logging` (a
    LogRecord, the walk up the logger hierarchy, handler dispatch, the generic formatter)
    costs several times more than building the line itself. This writer produces the same
    line JsonFormatter would (same keys in the same order, same timestamp format, same
    one-line escaping), written and flushed under the handler's lock like
    `StreamHandler.emit`. It is used only while logging is exactly as `configure_logging`
    left it; any change (handlers or filters added, propagation turned off, another
    formatter) sends access lines through `logging` again.
    """

    __slots__ = ("_app", "_clock", "_handler", "_lock", "_root", "_stream")

    def __init__(self, handler: logging.StreamHandler) -> None:
        self._handler = handler
        self._stream = handler.stream
        # The handler's RLock: `Handler.acquire()` and `release()` are Python-level wrappers
        # around it, and `with` on the lock itself is the same locking without the calls.
        self._lock = handler.lock
        self._root = logging.getLogger()
        self._app = logging.getLogger(ACCESS_LOGGER.partition(".")[0])
        self._clock = _Clock()

    def usable(self, logger: logging.Logger, level: int) -> bool:
        handler = self._handler
        root = self._root
        app = self._app
        root_handlers = root.handlers
        return (
            len(root_handlers) == 1
            and root_handlers[0] is handler
            and handler.stream is self._stream
            and handler.lock is self._lock
            and type(handler.formatter) is JsonFormatter
            and level >= handler.level
            and logger.propagate
            and app.propagate
            and not (
                handler.filters
                or root.filters
                or logger.handlers
                or logger.filters
                or app.handlers
                or app.filters
            )
        )

    def write(self, level: int, fields: dict[str, Any]) -> None:
        line = orjson.dumps(
            {
                "timestamp": self._clock.format(time.time()),
                "level": _LEVEL_NAMES.get(level) or logging.getLevelName(level).lower(),
                "logger": ACCESS_LOGGER,
                "message": f"{fields['method']} {fields['path']} {fields['status']}",
                **fields,
            },
            default=str,
            option=orjson.OPT_APPEND_NEWLINE,
        ).decode()
        stream = self._stream
        with self._lock:
            stream.write(line)
            stream.flush()


_LEVEL_NAMES = {level: logging.getLevelName(level).lower() for level in (10, 20, 30, 40, 50)}

# Set by configure_logging when the JSON format is in use.
_direct_access: _DirectJsonLines | None = None


def log_access(logger: logging.Logger, level: int, fields: dict[str, Any]) -> None:
    """Write one access line: `"<method> <path> <status>"` plus `fields` (see RequestMiddleware).

    The caller has checked `logger.isEnabledFor(level)`.
    """
    direct = _direct_access
    if direct is not None and direct.usable(logger, level):
        try:
            direct.write(level, fields)
            return
        except Exception:  # noqa: S110 - the logging path below reports it as logging would
            pass
    # makeRecord + handle instead of .log(): skips the caller lookup (a stack walk) that an
    # access line never needs.
    record = logger.makeRecord(
        logger.name,
        level,
        "",
        0,
        "%s %s %d",
        (fields["method"], fields["path"], fields["status"]),
        None,
        extra=fields,
    )
    logger.handle(record)


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
    global _direct_access
    _direct_access = _DirectJsonLines(handler) if fmt == "json" else None
