"""The real server: `python -m app` as a subprocess on a free 127.0.0.1 port."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

StartApp = Callable[..., Any]


def test_starts_serves_and_logs_json(start_app: StartApp) -> None:
    proc = start_app(APP_ENV="staging", SHUTDOWN_DRAIN_SECONDS=0)
    status, body = proc.get("/", headers={"X-Request-ID": "server-test-1"})
    assert status == 200
    info = json.loads(body)
    assert info["env"] == "staging"
    assert info["service"] == "production-api"
    assert proc.get("/items/3") == (200, b'{"item_id":3,"name":"item-3"}')
    assert proc.get("/health")[0] == 200
    assert proc.get("/readiness")[0] == 200
    status, metrics = proc.get("/metrics")
    assert status == 200
    assert b'http_requests_total{endpoint="/items/{item_id}",method="GET",status="200"}' in metrics
    assert b"_created" not in metrics
    assert b"process_resident_memory_bytes" in metrics
    assert proc.get("/nope")[0] == 404

    assert proc.stop() == 0
    records = proc.json_lines()  # every stdout line is one JSON object
    assert records
    assert proc.stderr_text() == ""

    running = [r for r in records if r["message"].startswith("Uvicorn running on")]
    assert running == [
        {
            "timestamp": running[0]["timestamp"],
            "level": "info",
            "logger": "uvicorn.error",
            "message": f"Uvicorn running on http://127.0.0.1:{proc.port} (Press CTRL+C to quit)",
        }
    ]
    access = [r for r in records if r["logger"] == "app.access"]
    assert [(r["path"], r["status"]) for r in access] == [
        ("/", 200),
        ("/items/3", 200),
        ("/nope", 404),
    ]
    first = access[0]
    assert first["request_id"] == "server-test-1"
    assert first["method"] == "GET"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", first["client"])
    assert first["duration_ms"] > 0
    assert not [r for r in records if r["logger"] == "uvicorn.access"]


def test_forwarded_client_address_is_trusted_from_loopback(start_app: StartApp) -> None:
    proc = start_app(SHUTDOWN_DRAIN_SECONDS=0)
    proc.get("/", headers={"X-Forwarded-For": "198.51.100.23", "X-Forwarded-Proto": "https"})
    assert proc.stop() == 0
    (line,) = [r for r in proc.json_lines() if r["logger"] == "app.access"]
    assert line["client"].startswith("198.51.100.23:")


def test_no_server_header_is_sent(start_app: StartApp) -> None:
    proc = start_app(SHUTDOWN_DRAIN_SECONDS=0)
    conn = http.client.HTTPConnection(proc.host, proc.port, timeout=10)
    conn.request("GET", "/health")
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.getheader("server") is None
    assert response.getheader("x-request-id")


@pytest.mark.parametrize(
    ("variable", "value"),
    [("PORT", "70000"), ("APP_ENV", "prod"), ("READINESS_DEPENDENCIES", "redis://cache:6379")],
)
def test_bad_env_var_exits_2_with_one_line(start_app: StartApp, variable: str, value: str) -> None:
    proc = start_app(wait=False, **{variable: value})
    assert proc.wait(timeout=60) == 2
    assert proc.stdout_lines() == []
    lines = proc.stderr_text().splitlines()
    assert len(lines) == 1, lines
    assert f"{variable}={value!r} is invalid" in lines[0]
    assert "allowed:" in lines[0]
    assert "Traceback" not in lines[0]


def test_text_log_format(start_app: StartApp) -> None:
    proc = start_app(LOG_FORMAT="text", SHUTDOWN_DRAIN_SECONDS=0)
    proc.get("/items/5")
    assert proc.stop() == 0
    lines = proc.stdout_lines()
    assert any(" app.access: GET /items/5 200 " in line for line in lines)
    assert not any(line.startswith("{") for line in lines)
