"""`promtool check metrics` on the real service's /metrics, after traffic of every kind."""

from __future__ import annotations

import subprocess
from typing import Any

TRAFFIC = ["/", "/items/1", "/items/abc", "/no/such/path", "/health", "/readiness", "/metrics"]


def check_metrics(promtool: str, exposition: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_metrics_pass_promtool_lint(start_app: Any, promtool: str) -> None:
    app = start_app(SHUTDOWN_DRAIN_SECONDS=0)
    for path in TRAFFIC:
        app.get(path)
    status, body = app.get("/metrics")
    assert status == 200
    # Every metric family of the contract is in the sample promtool checks.
    for name in (
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_requests_in_progress",
        "app_info",
        "process_cpu_seconds_total",
        "python_gc_collections_total",
    ):
        assert f"\n{name}".encode() in body, name
    result = check_metrics(promtool, body)
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    assert result.stdout + result.stderr == b""


def test_promtool_lint_reports_problems(promtool: str) -> None:
    """The check can fail: a counter without the _total suffix is a lint error (exit 3)."""
    bad = b"# HELP http_requests Requests.\n# TYPE http_requests counter\nhttp_requests 1\n"
    result = check_metrics(promtool, bad)
    assert result.returncode != 0
    assert b"_total" in result.stdout + result.stderr


def test_tracing_metrics_and_exemplars_are_well_formed(
    start_app: Any, promtool: str, collector: Any
) -> None:
    """With tracing on: the tracing_* families pass promtool's lint, and the OpenMetrics page
    with its exemplars parses with prometheus_client's strict OpenMetrics parser."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    app = start_app(OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint, SHUTDOWN_DRAIN_SECONDS=0)
    for path in TRAFFIC:
        app.get(path)
    status, body = app.get("/metrics")
    assert status == 200
    for name in ("tracing_spans_exported_total", "tracing_spans_dropped_total"):
        assert f"\n{name}".encode() in body, name
    result = check_metrics(promtool, body)
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    assert result.stdout + result.stderr == b""

    status, page = app.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(page.decode())}
    exemplars = [
        sample.exemplar
        for sample in families["http_request_duration_seconds"].samples
        if sample.exemplar is not None
    ]
    assert exemplars
    assert all(set(exemplar.labels) == {"trace_id"} for exemplar in exemplars)
