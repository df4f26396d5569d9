"""Every endpoint and status code, in process through httpx.ASGITransport.

Over 250 lines because it is the table of every endpoint and status code of app/main.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from fastapi import FastAPI

from app import __version__

pytestmark = pytest.mark.anyio

AppFactory = Callable[..., FastAPI]
Serve = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


async def test_root_reports_runtime_info(serve: Serve, app_factory: AppFactory) -> None:
    app = app_factory(app_name="orders", app_env="staging", app_version="9.9.9")
    async with serve(app) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"service", "env", "version", "hostname", "uptime_seconds"}
    assert body["service"] == "orders"
    assert body["env"] == "staging"
    assert body["version"] == "9.9.9"
    assert body["hostname"]
    assert body["uptime_seconds"] >= 0


async def test_version_defaults_to_the_package_version(
    serve: Serve, app_factory: AppFactory
) -> None:
    async with serve(app_factory()) as client:
        assert (await client.get("/")).json()["version"] == __version__


async def test_item_route_returns_the_item(serve: Serve, app_factory: AppFactory) -> None:
    async with serve(app_factory()) as client:
        response = await client.get("/items/42")
    assert response.status_code == 200
    assert response.json() == {"item_id": 42, "name": "item-42"}


@pytest.mark.parametrize("item_id", ["abc", "-1", "2147483648", "1.5"])
async def test_item_route_rejects_bad_ids_with_422(
    serve: Serve, app_factory: AppFactory, item_id: str
) -> None:
    async with serve(app_factory()) as client:
        response = await client.get(f"/items/{item_id}")
    assert response.status_code == 422
    assert response.json()["detail"]


async def test_health_is_ok(serve: Serve, app_factory: AppFactory) -> None:
    async with serve(app_factory()) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_health_stays_ok_while_draining(serve: Serve, app_factory: AppFactory) -> None:
    app = app_factory()
    async with serve(app) as client:
        app.state.health.start_draining()
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_is_503_until_start_up_finished(
    serve: Serve, app_factory: AppFactory
) -> None:
    async with serve(app_factory(), lifespan=False) as client:
        response = await client.get("/readiness")
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "reason": "starting", "checks": {}}


async def test_readiness_without_dependencies_is_ready_after_start_up(
    serve: Serve,
    app_factory: AppFactory,
) -> None:
    async with serve(app_factory()) as client:
        response = await client.get("/readiness")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {}}


async def test_readiness_is_503_while_draining(serve: Serve, app_factory: AppFactory) -> None:
    app = app_factory()
    async with serve(app) as client:
        assert (await client.get("/readiness")).status_code == 200
        app.state.health.start_draining()
        response = await client.get("/readiness")
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "reason": "shutting down", "checks": {}}


async def test_responses_carry_connection_close_only_while_draining(
    serve: Serve,
    app_factory: AppFactory,
) -> None:
    app = app_factory()
    async with serve(app) as client:
        before = await client.get("/")
        app.state.health.start_draining()
        during = await client.get("/")
    assert "connection" not in before.headers
    assert during.status_code == 200
    assert during.headers["connection"] == "close"


async def test_unknown_path_is_404_json(serve: Serve, app_factory: AppFactory) -> None:
    async with serve(app_factory()) as client:
        response = await client.get("/does/not/exist")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "Not Found"}


async def test_wrong_method_is_405_json_with_allow(serve: Serve, app_factory: AppFactory) -> None:
    async with serve(app_factory()) as client:
        response = await client.post("/items/1")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/json"
    assert response.headers["allow"] == "GET"
    assert response.json() == {"detail": "Method Not Allowed"}


async def test_unhandled_exception_is_500_json_without_traceback(
    serve: Serve,
    app_factory: AppFactory,
) -> None:
    """The failing route is added by this test only; the product has no such route."""
    app = app_factory()

    @app.get("/explode")
    async def explode() -> None:
        raise RuntimeError("secret internal detail")

    async with serve(app) as client:
        response = await client.get("/explode", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-request-id"] == "boom-1"


async def test_metrics_endpoint_serves_prometheus_text(
    serve: Serve, app_factory: AppFactory
) -> None:
    async with serve(app_factory()) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE http_requests_total counter" in response.text
    assert not response.text.rstrip().endswith("# EOF")


async def test_metrics_endpoint_serves_openmetrics_when_asked(
    serve: Serve, app_factory: AppFactory
) -> None:
    async with serve(app_factory()) as client:
        response = await client.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


async def test_docs_redoc_and_openapi_are_served(serve: Serve, app_factory: AppFactory) -> None:
    async with serve(app_factory(app_name="orders", app_version="3.1.0")) as client:
        docs = await client.get("/docs")
        redoc = await client.get("/redoc")
        schema = await client.get("/openapi.json")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert redoc.status_code == 200
    assert "redoc" in redoc.text.lower()
    assert schema.status_code == 200
    spec = schema.json()
    assert spec["info"] == {
        "title": "orders",
        "version": "3.1.0",
        "description": spec["info"]["description"],
    }
    assert set(spec["paths"]) == {"/", "/items/{item_id}"}
    ok = spec["paths"]["/items/{item_id}"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Item"}


async def test_probes_and_metrics_are_not_in_the_schema(
    serve: Serve, app_factory: AppFactory
) -> None:
    async with serve(app_factory()) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    for hidden in ("/health", "/readiness", "/metrics"):
        assert hidden not in paths


async def test_docs_can_be_disabled(serve: Serve, app_factory: AppFactory) -> None:
    async with serve(app_factory(docs_enabled=False)) as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await client.get(path)).status_code == 404
        assert (await client.get("/")).status_code == 200


async def test_request_id_is_generated_when_missing(serve: Serve, app_factory: AppFactory) -> None:
    async with serve(app_factory()) as client:
        first = await client.get("/")
        second = await client.get("/")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_sane_request_id_is_echoed(serve: Serve, app_factory: AppFactory) -> None:
    async with serve(app_factory()) as client:
        response = await client.get("/", headers={"X-Request-ID": "req-2026.11:abc_DEF"})
    assert response.headers["x-request-id"] == "req-2026.11:abc_DEF"


@pytest.mark.parametrize(
    "hostile",
    ["x" * 129, "has space", "semi;colon", 'quote"d', "tab\tbed", "<script>", "ünïcode"],
)
async def test_insane_request_id_is_replaced(
    serve: Serve, app_factory: AppFactory, hostile: str
) -> None:
    async with serve(app_factory()) as client:
        response = await client.get("/", headers=[("X-Request-ID", hostile.encode("utf-8"))])
    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_cors_is_off_by_default(serve: Serve, app_factory: AppFactory) -> None:
    async with serve(app_factory()) as client:
        simple = await client.get("/", headers={"Origin": "https://evil.example"})
        preflight = await client.options(
            "/",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
    assert "access-control-allow-origin" not in simple.headers
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.status_code == 405


async def test_cors_allows_configured_origins_only(serve: Serve, app_factory: AppFactory) -> None:
    app = app_factory(cors_origins=("https://ui.example.com",))
    async with serve(app) as client:
        allowed = await client.get("/", headers={"Origin": "https://ui.example.com"})
        other = await client.get("/", headers={"Origin": "https://evil.example"})
        preflight = await client.options(
            "/items/1",
            headers={
                "Origin": "https://ui.example.com",
                "Access-Control-Request-Method": "GET",
            },
        )
    assert allowed.headers["access-control-allow-origin"] == "https://ui.example.com"
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://ui.example.com"
    assert "x-request-id" in preflight.headers
