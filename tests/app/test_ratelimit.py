"""Rate limiting: the headers and the 429 in process (memory storage), then real processes
sharing a real Redis, the client address after uvicorn's proxy-header handling, the token's
`sub` as the key (a real Dex), and Redis going away. Nothing is mocked."""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from fastapi import FastAPI

from app.settings import Settings
from tests.support.appproc import REPO_ROOT, AppProcess, app_environment
from tests.support.issuer import CLIENT_ID, Dex, Redis
from tests.support.wait import wait_for

StartApp = Callable[..., AppProcess]
AppFactory = Callable[..., FastAPI]
Serve = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def _get(
    proc: AppProcess, path: str = "/", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def _metric(proc: AppProcess, sample: str) -> float:
    body = proc.get("/metrics")[1].decode()
    match = re.search(rf"^{re.escape(sample)} (\S+)$", body, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


@pytest.mark.anyio
async def test_headers_429_and_exempt_probes(app_factory: AppFactory, serve: Serve) -> None:
    app = app_factory(rate_limit="3/minute", rate_limit_routes={"/items/{item_id}": "1/second"})
    async with serve(app) as client:
        for remaining in (2, 1, 0):
            response = await client.get("/")
            assert response.status_code == 200
            assert response.headers["ratelimit-policy"] == '"default";q=3;w=60'
            assert re.fullmatch(rf'"default";r={remaining};t=\d+', response.headers["ratelimit"])
        response = await client.get("/")
        assert response.status_code == 429
        assert 1 <= int(response.headers["retry-after"]) <= 60
        assert response.json() == {"detail": "Too Many Requests"}
        # A route with its own limit has its own bucket.
        items = await client.get("/items/1")
        assert items.status_code == 200
        assert items.headers["ratelimit-policy"] == '"/items/{item_id}";q=1;w=1'
        for path in ("/health", "/readiness", "/metrics", "/openapi.json"):
            for _ in range(5):
                response = await client.get(path)
                assert response.status_code == 200, path
                assert "ratelimit" not in response.headers
        metrics = (await client.get("/metrics")).text
        assert 'rate_limited_requests_total{policy="default"} 1.0' in metrics


@pytest.mark.anyio
async def test_route_limits_alone_limit_only_those_routes(
    app_factory: AppFactory, serve: Serve
) -> None:
    app = app_factory(rate_limit_routes={"/items/{item_id}": "1/minute"})
    async with serve(app) as client:
        for _ in range(3):
            response = await client.get("/")
            assert response.status_code == 200
            assert "ratelimit" not in response.headers
        assert (await client.get("/items/1")).status_code == 200
        assert (await client.get("/items/2")).status_code == 429


def test_neither_loads_its_libraries_when_off() -> None:
    """Off, authentication and rate limiting cost no start-up: PyJWT, cryptography, limits and
    redis are never imported (a fresh interpreter, the app built with default settings)."""
    code = (
        "import sys; from app.main import create_app; from app.settings import Settings; "
        "create_app(Settings()); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'jwt', 'cryptography', 'limits', 'redis'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=app_environment(),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.anyio
async def test_off_by_default(app_factory: AppFactory, serve: Serve) -> None:
    assert Settings().rate_limit_enabled is False
    async with serve(app_factory()) as client:
        response = await client.get("/")
        assert "ratelimit" not in response.headers
        assert "rate_limited_requests_total" not in (await client.get("/metrics")).text


def test_two_processes_share_one_limit_in_redis(start_app: StartApp, redis: Redis) -> None:
    env = {"RATE_LIMIT": "10/minute", "RATE_LIMIT_STORAGE": redis.url}
    first, second = start_app(**env), start_app(**env)
    statuses = [_get(proc)[0] for _ in range(6) for proc in (first, second)]
    assert statuses == [200] * 10 + [429] * 2
    assert _get(first)[1]["ratelimit"].startswith('"default";r=0;')


def test_a_forged_forwarded_for_from_an_untrusted_peer_gets_no_fresh_bucket(
    start_app: StartApp,
) -> None:
    proc = start_app(RATE_LIMIT="3/minute", FORWARDED_ALLOW_IPS="192.0.2.1")
    statuses = [_get(proc, headers={"X-Forwarded-For": f"198.51.100.{n}"})[0] for n in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def test_behind_a_trusted_proxy_the_address_it_appended_is_the_key(start_app: StartApp) -> None:
    """The loopback peer is the trusted proxy (FORWARDED_ALLOW_IPS=127.0.0.1): the client is
    the address it appended, whatever the client put in front of it."""
    proc = start_app(RATE_LIMIT="2/minute", FORWARDED_ALLOW_IPS="127.0.0.1")
    forged = [
        _get(proc, headers={"X-Forwarded-For": f"203.0.113.{n}, 198.51.100.1"})[0] for n in range(3)
    ]
    assert forged == [200, 200, 429]
    assert _get(proc, headers={"X-Forwarded-For": "198.51.100.2"})[0] == 200


def test_an_authenticated_client_is_limited_by_its_sub(start_app: StartApp, dex: Dex) -> None:
    proc = start_app(RATE_LIMIT="2/minute", AUTH_ISSUER=dex.issuer, AUTH_AUDIENCE=CLIENT_ID)
    # Two tokens of the same user, from two addresses: one bucket.
    requests = [
        {"Authorization": f"Bearer {dex.token()}", "X-Forwarded-For": f"198.51.100.{n}"}
        for n in range(3)
    ]
    assert [_get(proc, headers=headers)[0] for headers in requests] == [200, 200, 429]
    # A rejected token spends its address's bucket, not the user's.
    assert _get(proc, headers={"Authorization": "Bearer x.y.z"})[0] == 401
    assert _get(proc, headers={"Authorization": "Bearer x.y.z"})[0] == 401
    assert _get(proc, headers={"Authorization": "Bearer x.y.z"})[0] == 429


def test_redis_down_fails_open_counted_and_logged_once(start_app: StartApp, redis: Redis) -> None:
    proc = start_app(RATE_LIMIT="100/minute", RATE_LIMIT_STORAGE=redis.url)
    assert _get(proc)[0] == 200
    redis.stop()
    statuses = [_get(proc)[0] for _ in range(20)]
    assert statuses == [200] * 20
    assert _metric(proc, "rate_limit_storage_errors_total") == 20
    proc.stop()
    warnings = [line for line in proc.json_lines() if line["logger"] == "app.ratelimit"]
    assert len(warnings) == 1
    assert "storage unavailable" in warnings[0]["message"]


def test_redis_down_fails_closed_with_503_when_asked(start_app: StartApp, redis: Redis) -> None:
    proc = start_app(
        RATE_LIMIT="100/minute", RATE_LIMIT_STORAGE=redis.url, RATE_LIMIT_FAIL_OPEN="false"
    )
    assert _get(proc)[0] == 200
    redis.stop()
    status, headers = _get(proc)
    assert (status, headers["retry-after"]) == (503, "1")
    assert proc.get("/readiness")[0] == 200
    wait_for("a counted storage error", lambda: _metric(proc, "rate_limit_storage_errors_total"), 5)
