"""Tracing inside the app: what it costs when off (the SDK is never imported), how the
resource and sampler follow the variables, and an unhandled exception recorded on the span
that a real OpenTelemetry Collector receives."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    ParentBasedTraceIdRatio,
    TraceIdRatioBased,
)

from app.main import create_app
from app.settings import Settings
from app.tracing import resource_attributes, sampler
from tests.support.appproc import REPO_ROOT, app_environment

pytestmark = pytest.mark.anyio

SDK_LOADED = """
import sys
from app.main import create_app
from app.settings import load_settings
create_app(load_settings())
print(any(name.startswith("opentelemetry.sdk") for name in sys.modules))
"""


@pytest.mark.parametrize(
    ("env", "loaded"),
    [({}, "False"), ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "True")],
    ids=["off", "on"],
)
def test_the_sdk_is_imported_only_when_tracing_is_on(env: dict[str, str], loaded: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SDK_LOADED],
        cwd=REPO_ROOT,
        env=app_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert proc.stdout.strip() == loaded


def test_resource_follows_the_specification_order() -> None:
    settings = Settings(app_name="orders", app_version="2.0.0", app_env="production")
    assert resource_attributes(settings) == {
        "service.name": "orders",
        "service.version": "2.0.0",
        "deployment.environment.name": "production",
    }
    settings = Settings(
        app_name="orders",
        otel_resource_attributes="service.name=from-attributes,service.version=3.1,k8s.pod.name=p-1",
    )
    attributes = resource_attributes(settings)
    assert attributes["service.name"] == "from-attributes"
    assert attributes["service.version"] == "3.1"
    assert attributes["k8s.pod.name"] == "p-1"
    settings = Settings(
        otel_resource_attributes="service.name=from-attributes", otel_service_name="billing"
    )
    assert resource_attributes(settings)["service.name"] == "billing"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("always_on", ALWAYS_ON),
        ("always_off", ALWAYS_OFF),
        ("traceidratio", TraceIdRatioBased(0.25)),
        ("parentbased_always_on", ParentBased(ALWAYS_ON)),
        ("parentbased_always_off", ParentBased(ALWAYS_OFF)),
        ("parentbased_traceidratio", ParentBasedTraceIdRatio(0.25)),
    ],
)
def test_every_specified_sampler(name: str, expected: Any) -> None:
    assert sampler(name, 0.25).get_description() == expected.get_description()


async def test_an_unhandled_exception_is_recorded_on_its_span(
    serve: Any, capture_logs: Any, collector: Any
) -> None:
    logs = capture_logs()
    app: FastAPI = create_app(
        Settings(otel_exporter_otlp_endpoint=collector.endpoint, otel_bsp_schedule_delay=100)
    )

    @app.get("/boom/{n}")
    async def boom(n: int) -> None:
        raise RuntimeError(f"kaboom {n}")

    async with serve(app) as client:  # the lifespan stop flushes the queue
        response = await client.get("/boom/1", headers={"X-Request-ID": "r-boom"})
    assert response.status_code == 500

    [span] = collector.wait_for_spans(lambda span: span["name"] == "GET /boom/{n}")
    assert span["status"]["code"] == 2  # ERROR
    assert span["attributes"]["http.response.status_code"] == 500
    assert span["attributes"]["error.type"] == "500"
    [event] = span["events"]
    assert event["name"] == "exception"
    attributes = {item["key"]: item["value"]["stringValue"] for item in event["attributes"]}
    assert attributes["exception.type"] == "RuntimeError"
    assert attributes["exception.message"] == "kaboom 1"
    assert "raise RuntimeError" in attributes["exception.stacktrace"]

    records = [rec for rec in logs.records() if rec.get("request_id") == "r-boom"]
    assert {rec["logger"] for rec in records} == {"app.error", "app.access"}
    for record in records:
        assert (record["trace_id"], record["span_id"]) == (span["traceId"], span["spanId"])
