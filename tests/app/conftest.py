"""In-process fixtures: settings, an httpx client on the ASGI app (lifespan included), logs.

The client speaks ASGI directly (httpx.ASGITransport); no socket is opened. The lifespan
protocol is driven by hand because ASGITransport does not run it, so start-up and shutdown
go through the app's real lifespan handler.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.logging import configure_logging
from app.main import create_app
from app.settings import Settings

# Every variable the service reads: one per settings field, upper-cased.
APP_ENV_VARS = tuple(name.upper() for name in Settings.model_fields)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone, never from the shell that runs pytest."""
    for name in APP_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_settings(**overrides: Any) -> Settings:
    """Settings with field-name overrides (e.g. `readiness_cache_seconds=0`)."""
    return Settings(**overrides)


class _Lifespan:
    """Runs the ASGI lifespan protocol of `app` in a background task."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def _receive(self) -> dict[str, Any]:
        return await self.to_app.get()

    async def _send(self, message: dict[str, Any]) -> None:
        await self.from_app.put(message)

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self.task = asyncio.create_task(self.app(scope, self._receive, self._send))
        await self.to_app.put({"type": "lifespan.startup"})
        message = await asyncio.wait_for(self.from_app.get(), timeout=10)
        assert message["type"] == "lifespan.startup.complete", message

    async def shutdown(self) -> None:
        await self.to_app.put({"type": "lifespan.shutdown"})
        message = await asyncio.wait_for(self.from_app.get(), timeout=10)
        assert message["type"] == "lifespan.shutdown.complete", message
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout=10)


@asynccontextmanager
async def _serve(app: FastAPI, *, lifespan: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client bound to `app`; with `lifespan`, start-up runs first, shutdown last."""
    runner = _Lifespan(app)
    if lifespan:
        await runner.startup()
    try:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", timeout=30
        ) as client:
            yield client
    finally:
        if lifespan:
            await runner.shutdown()


Serve = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def serve() -> Serve:
    """`async with serve(app, lifespan=True) as client:` -> httpx client on the ASGI app."""
    return _serve


@pytest.fixture
def app_factory() -> Callable[..., FastAPI]:
    """`app_factory(**settings_overrides)` -> a fresh FastAPI app."""

    def factory(**overrides: Any) -> FastAPI:
        return create_app(make_settings(**overrides))

    return factory


class LogCapture:
    """What the service logged, as text lines and as parsed JSON objects."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def lines(self) -> list[str]:
        return [line for line in self.stream.getvalue().split("\n") if line]

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]

    def access(self) -> list[dict[str, Any]]:
        return [rec for rec in self.records() if rec["logger"] == "app.access"]


@pytest.fixture
def capture_logs() -> Iterator[Callable[..., LogCapture]]:
    """`capture_logs(level="info", fmt="json")` routes all logging into a buffer.

    The root logger and uvicorn's loggers are restored afterwards.
    """
    names = ("", "uvicorn", "uvicorn.error", "uvicorn.asgi", "uvicorn.access")
    saved = {
        name: (
            list(logging.getLogger(name).handlers),
            logging.getLogger(name).level,
            logging.getLogger(name).propagate,
        )
        for name in names
    }

    flags = (logging.logThreads, logging.logProcesses, logging.logMultiprocessing)

    def capture(level: str = "info", fmt: str = "json") -> LogCapture:
        stream = io.StringIO()
        configure_logging(level, fmt, stream=stream)
        return LogCapture(stream)

    yield capture
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
    logging.captureWarnings(False)
    logging.logThreads, logging.logProcesses, logging.logMultiprocessing = flags
