"""Metrics: names, labels by route template, bounded cardinality under hostile traffic."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from app.metrics import DURATION_BUCKETS

pytestmark = pytest.mark.anyio

AppFactory = Callable[..., FastAPI]
Serve = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Labels = dict[str, str]


def samples(app: FastAPI, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Current samples named `name` in the app's own registry, keyed by sorted labels."""
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in app.state.metrics.registry.collect():
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def request_count(app: FastAPI, method: str, endpoint: str, status: str) -> float:
    key = (("endpoint", endpoint), ("method", method), ("status", status))
    return samples(app, "http_requests_total").get(key, 0.0)


async def test_metric_names_types_and_buckets(serve: Serve, app_factory: AppFactory) -> None:
    app = app_factory(app_version="1.2.3", app_env="production")
    async with serve(app) as client:
        await client.get("/items/1")
        text = (await client.get("/metrics")).text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert families["http_requests"].type == "counter"
    assert families["http_request_duration_seconds"].type == "histogram"
    assert families["http_requests_in_progress"].type == "gauge"
    assert families["app_info"].type == "gauge"
    assert any(name.startswith("process_") for name in families)
    assert any(name.startswith("python_gc_") for name in families)
    info = families["app_info"].samples
    assert [(s.labels, s.value) for s in info] == [({"version": "1.2.3", "env": "production"}, 1)]
    bounds = {
        s.labels["le"]
        for s in families["http_request_duration_seconds"].samples
        if s.name.endswith("_bucket")
    }
    assert bounds == {str(float(b)) for b in DURATION_BUCKETS} | {"+Inf"}


async def test_endpoint_label_is_the_route_template(serve: Serve, app_factory: AppFactory) -> None:
    app = app_factory()
    async with serve(app) as client:
        for item_id in (1, 2, 3, 99):
            assert (await client.get(f"/items/{item_id}")).status_code == 200
        await client.get("/items/not-a-number")
        await client.get("/")
        await client.get("/docs")
        await client.get("/openapi.json")
        await client.get("/health")
    assert request_count(app, "GET", "/items/{item_id}", "200") == 4
    assert request_count(app, "GET", "/items/{item_id}", "422") == 1
    assert request_count(app, "GET", "/", "200") == 1
    assert request_count(app, "GET", "/docs", "200") == 1
    assert request_count(app, "GET", "/openapi.json", "200") == 1
    assert request_count(app, "GET", "/health", "200") == 1
    endpoints = {dict(key)["endpoint"] for key in samples(app, "http_requests_total")}
    assert not any(endpoint.startswith("/items/") and "{" not in endpoint for endpoint in endpoints)
    durations = samples(app, "http_request_duration_seconds_count")
    assert durations[(("endpoint", "/items/{item_id}"), ("method", "GET"))] == 5


async def test_unmatched_paths_and_unknown_methods_collapse(
    serve: Serve, app_factory: AppFactory
) -> None:
    app = app_factory()
    async with serve(app) as client:
        await client.get("/nope")
        await client.get("/also/nope")
        await client.request("PURGE", "/items/1")
        await client.request("BREW", "/")
        await client.post("/items/1")
    assert request_count(app, "GET", "unmatched", "404") == 2
    assert request_count(app, "OTHER", "/items/{item_id}", "405") == 1
    assert request_count(app, "OTHER", "/", "405") == 1
    assert request_count(app, "POST", "/items/{item_id}", "405") == 1


async def test_thousand_random_paths_add_no_series(serve: Serve, app_factory: AppFactory) -> None:
    app = app_factory()
    rng = random.Random(20261126)  # noqa: S311 - reproducible test data, not secrets
    alphabet = string.ascii_letters + string.digits + "-._~%"
    async with serve(app) as client:
        await client.get("/nope")
        before = len(samples(app, "http_requests_total"))
        reserved = {"/", "/health", "/readiness", "/metrics", "/docs", "/redoc", "/openapi.json"}
        paths: set[str] = set()
        while len(paths) < 1000:
            segments = [
                "".join(rng.choices(alphabet, k=rng.randint(1, 12)))
                for _ in range(rng.randint(1, 4))
            ]
            path = "/" + "/".join(segments)
            # Dot segments are normalised away by the client; they would not be new paths.
            if path in reserved or path.startswith("/items/") or {".", ".."} & set(segments):
                continue
            paths.add(path)
        for path in sorted(paths):
            response = await client.get(path, headers={"X-Request-ID": path[:100]})
            assert response.status_code == 404, path
    series = samples(app, "http_requests_total")
    assert len(series) == before
    assert request_count(app, "GET", "unmatched", "404") == 1001
    histogram = samples(app, "http_request_duration_seconds_count")
    assert {dict(key)["endpoint"] for key in histogram} == {"unmatched"}


async def test_unhandled_exception_is_counted_as_500(serve: Serve, app_factory: AppFactory) -> None:
    """The failing route is added by this test only; the product has no such route."""
    app = app_factory()

    @app.get("/explode/{part}")
    async def explode(part: str) -> None:
        raise ValueError(part)

    async with serve(app) as client:
        assert (await client.get("/explode/a")).status_code == 500
        assert (await client.get("/explode/b")).status_code == 500
    assert request_count(app, "GET", "/explode/{part}", "500") == 2
    assert samples(app, "http_requests_in_progress") == {(): 0.0}


async def test_in_progress_gauge_returns_to_zero(serve: Serve, app_factory: AppFactory) -> None:
    app = app_factory()
    async with serve(app) as client:
        for _ in range(5):
            await client.get("/")
        text = (await client.get("/metrics")).text
    # While /metrics renders, it is itself the one request in progress.
    assert "http_requests_in_progress 1.0" in text
    assert samples(app, "http_requests_in_progress") == {(): 0.0}


async def test_each_app_has_its_own_registry(serve: Serve, app_factory: AppFactory) -> None:
    first, second = app_factory(), app_factory()
    async with serve(first) as client:
        await client.get("/")
    assert request_count(first, "GET", "/", "200") == 1
    assert request_count(second, "GET", "/", "200") == 0
    assert first.state.metrics.registry is not second.state.metrics.registry
