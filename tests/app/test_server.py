"""How `python -m app` configures uvicorn, and the drain state machine of the stop signals."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from app.main import create_app
from app.server import DrainingServer, build_server
from app.settings import Settings

pytestmark = pytest.mark.anyio


def _server(**overrides: Any) -> DrainingServer:
    settings = Settings(**overrides)
    return build_server(create_app(settings), settings)


def test_uvicorn_runs_one_worker_with_uvloop_httptools_and_proxy_headers() -> None:
    server = _server(
        host="127.0.0.1",
        port=9999,
        log_level="warning",
        shutdown_timeout_seconds=7,
        forwarded_allow_ips="10.0.0.0/8",
    )
    config = server.config
    assert (config.host, config.port) == ("127.0.0.1", 9999)
    assert config.loop == "uvloop"
    assert config.http == "httptools"
    assert config.workers == 1
    assert config.reload is False
    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == "10.0.0.0/8"
    assert config.access_log is False
    assert config.log_config is None
    assert config.timeout_graceful_shutdown == 7
    assert config.server_header is False


async def test_first_signal_drains_second_stops_third_forces() -> None:
    server = _server(shutdown_drain_seconds=60)
    state = server.config.app.state.health
    server.handle_exit(signal.SIGTERM, None)
    assert state.draining is True
    assert server.should_exit is False
    # Nothing recorded for uvicorn to re-raise after shutdown (that would exit with 143).
    assert server._captured_signals == []
    assert await server.on_tick(1) is False

    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit is True
    assert server.force_exit is False
    server.handle_exit(signal.SIGINT, None)
    assert server.force_exit is True
    assert server._captured_signals == []


async def test_drain_ends_after_the_configured_time() -> None:
    server = _server(shutdown_drain_seconds=0)
    server.handle_exit(signal.SIGINT, None)
    assert server.config.app.state.health.draining is True
    assert await server.on_tick(1) is True
    assert server.should_exit is True
