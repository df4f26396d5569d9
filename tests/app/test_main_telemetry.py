"""FASTAPI_TELEMETRY: FastAPI's built-in OpenTelemetry hooks are off unless switched on.

FastAPI runs its hooks only when an OpenTelemetry provider is configured; the service's own
tracing (app/tracing.py) gives FastAPI a provider of its own and never sets the global one.
These tests therefore stand in a configured global tracer provider:
`opentelemetry.trace.get_tracer_provider` is patched to return a minimal `TracerProvider`
whose tracers are the API's no-op tracer (the process-wide setter can be called only once, so
a real global provider would leak into every later test). A probe route asks FastAPI's public
`get_telemetry_data()` whether the request is being instrumented.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.telemetry import get_telemetry_data
from opentelemetry import trace

from app.main import create_app
from app.settings import load_settings

pytestmark = pytest.mark.anyio

Serve = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
PROBE = "/telemetry-probe"


class StandInTracerProvider(trace.TracerProvider):
    """A configured provider as far as FastAPI can tell; its spans record nothing."""

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return trace.NoOpTracer()


@pytest.fixture
def configured_tracer_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = StandInTracerProvider()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)


def _app_with_probe(build: Callable[[], FastAPI]) -> FastAPI:
    app = build()

    @app.get(PROBE, include_in_schema=False)
    async def probe() -> dict[str, bool]:
        return {"instrumented": get_telemetry_data() is not None}

    return app


@pytest.mark.usefixtures("configured_tracer_provider")
async def test_fastapi_telemetry_is_off_by_default(serve: Serve) -> None:
    app = _app_with_probe(lambda: create_app(load_settings()))
    async with serve(app) as client:
        response = await client.get(PROBE)
        assert (await client.get("/items/7")).status_code == 200
    assert response.json() == {"instrumented": False}


@pytest.mark.usefixtures("configured_tracer_provider")
async def test_fastapi_telemetry_true_uses_the_global_providers(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASTAPI_TELEMETRY", "true")
    app = _app_with_probe(lambda: create_app(load_settings()))
    async with serve(app) as client:
        response = await client.get(PROBE)
        assert (await client.get("/items/7")).status_code == 200
    assert response.json() == {"instrumented": True}


async def test_without_a_provider_nothing_is_instrumented_either_way(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no global provider configured the setting changes cost, not behaviour."""
    for value in ("false", "true"):
        monkeypatch.setenv("FASTAPI_TELEMETRY", value)
        app = _app_with_probe(lambda: create_app(load_settings()))
        async with serve(app) as client:
            assert (await client.get(PROBE)).json() == {"instrumented": False}
