"""The Grafana dashboard shipped by the chart: structure, required panels, ConfigMap wiring.

That every panel query evaluates against a real Prometheus is checked end to end in
test_prometheus_e2e.py; here the JSON itself is checked.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from promstack import CHART, dashboard_queries, find_kind

DASHBOARD = CHART / "dashboards" / "production-api.json"


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_identity(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "production-api"
    assert dashboard["title"] == "production-api"
    assert isinstance(dashboard["schemaVersion"], int)


def test_variables_select_datasource_namespace_job_endpoint(dashboard: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert set(variables) == {"datasource", "namespace", "job", "endpoint"}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["endpoint"]["multi"] is True
    assert variables["endpoint"]["includeAll"] is True
    assert variables["endpoint"]["allValue"] == ".*"


def test_panel_ids_unique_and_layout_fits(dashboard: dict[str, Any]) -> None:
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0, panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))


def test_every_panel_queries_the_selected_datasource_and_job(dashboard: dict[str, Any]) -> None:
    for panel in panels(dashboard):
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            assert 'namespace="$namespace"' in target["expr"], panel["title"]
            assert 'job="$job"' in target["expr"], panel["title"]


def test_required_panels_exist(dashboard: dict[str, Any]) -> None:
    """Request rate, error ratio, latency quantiles per endpoint, in flight, CPU, memory."""
    exprs = {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in panels(dashboard)}

    def find(pattern: str) -> list[str]:
        return [title for title, expr in exprs.items() if re.search(pattern, expr)]

    assert find(r"sum by \(method, endpoint\) \(rate\(http_requests_total")
    assert find(r'status=~"5\.\."\}.*\) / sum')
    for quantile in ("0.5", "0.9", "0.99"):
        assert find(
            rf"histogram_quantile\({quantile}, sum by \(endpoint, le\) "
            r"\(rate\(http_request_duration_seconds_bucket"
        ), quantile
    assert find(r"http_requests_in_progress")
    assert find(r"rate\(process_cpu_seconds_total")
    assert find(r"process_resident_memory_bytes")


def test_rate_queries_use_the_rate_interval(dashboard: dict[str, Any]) -> None:
    for _, expr in dashboard_queries(dashboard):
        for window in re.findall(r"\[([^\]]+)\]", expr):
            assert window in {"$__rate_interval", "$__range"}, expr


def test_configmap_carries_the_file(render_chart: Any) -> None:
    configmap = find_kind(render_chart("--set", "grafanaDashboard.enabled=true"), "ConfigMap")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"]["web-production-api.json"]) == json.loads(
        DASHBOARD.read_text()
    )


def test_configmap_uid_override_keeps_the_rest(render_chart: Any) -> None:
    configmap = find_kind(
        render_chart(
            "--set", "grafanaDashboard.enabled=true", "--set", "grafanaDashboard.uid=web-api"
        ),
        "ConfigMap",
    )
    rendered = json.loads(configmap["data"]["web-production-api.json"])
    original = json.loads(DASHBOARD.read_text())
    assert rendered.pop("uid") == "web-api"
    original.pop("uid")
    assert rendered == original
