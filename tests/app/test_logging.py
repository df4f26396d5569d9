"""Logs: one JSON object per line (parsed with json.loads), access fields, no log injection."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

pytestmark = pytest.mark.anyio

AppFactory = Callable[..., FastAPI]
Serve = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Capture = Callable[..., Any]

RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


async def test_access_line_has_every_field(
    serve: Serve, app_factory: AppFactory, capture_logs: Capture
) -> None:
    logs = capture_logs()
    async with serve(app_factory()) as client:
        response = await client.get("/items/7?secret=token", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200
    (line,) = logs.access()
    assert RFC3339_UTC.fullmatch(line["timestamp"])
    assert line["level"] == "info"
    assert line["logger"] == "app.access"
    assert line["message"] == "GET /items/7 200"
    assert line["method"] == "GET"
    assert line["path"] == "/items/7"
    assert line["route"] == "/items/{item_id}"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["request_id"] == "abc-123"
    assert line["client"] == "203.0.113.7:40000"
    assert "token" not in str(line)


async def test_every_line_is_json(
    serve: Serve, app_factory: AppFactory, capture_logs: Capture
) -> None:
    logs = capture_logs(level="debug")
    async with serve(app_factory()) as client:
        for path in ("/", "/items/1", "/nope", "/health", "/readiness", "/metrics", "/docs"):
            await client.get(path)
    logging.getLogger("uvicorn.error").info("Uvicorn running on %s", "http://127.0.0.1:1")
    records = logs.records()  # json.loads on every line
    assert len(records) == len(logs.lines()) >= 8
    for record in records:
        assert {"timestamp", "level", "logger", "message"} <= set(record)
        assert RFC3339_UTC.fullmatch(record["timestamp"])
    uvicorn_lines = [r for r in records if r["logger"] == "uvicorn.error"]
    assert uvicorn_lines[-1]["message"] == "Uvicorn running on http://127.0.0.1:1"


async def test_probes_are_not_access_logged_at_info_by_default(
    serve: Serve, app_factory: AppFactory, capture_logs: Capture
) -> None:
    logs = capture_logs()
    async with serve(app_factory()) as client:
        for path in ("/health", "/readiness", "/metrics", "/"):
            await client.get(path)
    assert [line["path"] for line in logs.access()] == ["/"]


async def test_probes_are_access_logged_at_debug(
    serve: Serve, app_factory: AppFactory, capture_logs: Capture
) -> None:
    logs = capture_logs(level="debug")
    async with serve(app_factory()) as client:
        await client.get("/health")
    (line,) = logs.access()
    assert line["path"] == "/health"
    assert line["level"] == "debug"


async def test_probes_are_access_logged_when_enabled(
    serve: Serve, app_factory: AppFactory, capture_logs: Capture
) -> None:
    logs = capture_logs()
    async with serve(app_factory(access_log_probes=True)) as client:
        for path in ("/health", "/readiness", "/metrics"):
            await client.get(path)
    lines = logs.access()
    assert [line["path"] for line in lines] == ["/health", "/readiness", "/metrics"]
    assert {line["level"] for line in lines} == {"info"}


async def test_hostile_path_cannot_forge_log_lines(
    serve: Serve, app_factory: AppFactory, capture_logs: Capture
) -> None:
    logs = capture_logs()
    forged = '\n{"level":"critical","logger":"app.access","message":"forged"}\r\n'
    async with serve(app_factory()) as client:
        await client.get("/x" + forged.replace("\n", "%0A").replace("\r", "%0D"))
    records = logs.records()  # every line is still one whole JSON object
    assert len(records) == len(logs.lines())
    assert not [r for r in records if r["message"] == "forged"]
    (line,) = logs.access()
    assert line["path"] == "/x" + forged
    assert line["status"] == 404


async def test_unhandled_exception_is_logged_once_with_traceback_and_request_id(
    serve: Serve, app_factory: AppFactory, capture_logs: Capture
) -> None:
    """The failing route is added by this test only; the product has no such route."""
    logs = capture_logs()
    app = app_factory()

    @app.get("/explode")
    async def explode() -> None:
        raise RuntimeError("kaboom")

    async with serve(app) as client:
        await client.get("/explode", headers={"X-Request-ID": "trace-me"})
    errors = [r for r in logs.records() if r["level"] == "error"]
    assert len(errors) == 1
    (error,) = errors
    assert error["logger"] == "app.error"
    assert error["request_id"] == "trace-me"
    assert error["path"] == "/explode"
    assert error["exception"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: kaboom" in error["exception"]
    (access,) = logs.access()
    assert access["status"] == 500
    assert access["request_id"] == "trace-me"


async def test_application_logs_inside_a_request_carry_its_request_id(
    serve: Serve, app_factory: AppFactory, capture_logs: Capture
) -> None:
    """The logging route is added by this test only; the product has no such route."""
    logs = capture_logs()
    app = app_factory()

    @app.get("/work")
    def work() -> dict[str, str]:
        # A sync route runs in the threadpool: the request id must follow it there.
        logging.getLogger("app.work").info("did work", extra={"units": 3})
        return {}

    async with serve(app) as client:
        await client.get("/work", headers={"X-Request-ID": "job-9"})
    (record,) = [r for r in logs.records() if r["logger"] == "app.work"]
    assert record["message"] == "did work"
    assert record["units"] == 3
    assert record["request_id"] == "job-9"


def test_uvicorn_access_logger_is_silenced(capture_logs: Capture) -> None:
    logs = capture_logs()
    logging.getLogger("uvicorn.access").info('127.0.0.1:1 - "GET / HTTP/1.1" 200')
    assert logs.lines() == []


def test_level_filters_records(capture_logs: Capture) -> None:
    logs = capture_logs(level="warning")
    logging.getLogger("app.x").info("quiet")
    logging.getLogger("app.x").warning("loud")
    assert [r["message"] for r in logs.records()] == ["loud"]


def test_text_format_is_one_escaped_line_per_record(capture_logs: Capture) -> None:
    logs = capture_logs(fmt="text")
    logging.getLogger("app.x").warning("two\nlines", extra={"user": "a\nb"})
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("app.x").exception("failed")
    lines = logs.lines()
    assert len(lines) == 2
    assert "WARNING" in lines[0]
    assert "two\\nlines" in lines[0]
    assert "user=a\\nb" in lines[0]
    assert "ValueError: bad" in lines[1]
