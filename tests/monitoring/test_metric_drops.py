"""Metric drops (serviceMonitor.metricRelabelings) against what the dashboard and alerts read.

A values file the chart ships (the defaults, each environment overlay, the ci/ example values)
must not drop, at scrape time, a metric that a dashboard panel or an alert queries: the panel
would stay empty, the alert would never fire. The relabelings are applied to each queried
metric name the way Prometheus applies `drop`/`keep` on `__name__` (a fully anchored regexp).

docs/monitoring.md's table of which panels each metric feeds is checked against the dashboard
too, so that someone choosing what to drop reads the truth.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from promstack import CHART, REPO_ROOT, dashboard_queries, find_kind

DASHBOARD = CHART / "dashboards" / "production-api.json"
MONITORING_DOC = REPO_ROOT / "docs" / "monitoring.md"
VALUES_FILES = {
    "defaults": None,
    **{p.name: p for p in sorted(CHART.glob("values-*.yaml"))},
    **{f"ci/{p.name}": p for p in sorted((CHART / "ci").glob("*-values.yaml"))},
}
METRIC = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\{")


def queried_metrics(expr: str) -> set[str]:
    """Metric names of the selectors in `expr` that come from scraping the service: not `up`
    (Prometheus makes it after metric relabeling), not recording rules (`a:b:c`), not
    kube-state-metrics' series (another scrape job)."""
    return {
        name
        for name in METRIC.findall(expr)
        if name != "up" and ":" not in name and not name.startswith("kube_")
    }


def panels_by_metric() -> dict[str, list[str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    found: dict[str, list[str]] = {}
    for title, expr in dashboard_queries(dashboard):
        for name in sorted(queried_metrics(expr)):
            titles = found.setdefault(name, [])
            if title not in titles:
                titles.append(title)
    return found


def dropped(name: str, relabelings: list[dict[str, Any]]) -> bool:
    """Whether the metric relabelings drop every series named `name`."""
    for r in relabelings:
        action = r.get("action", "replace").lower()
        sources = r.get("sourceLabels", [])
        if action in ("drop", "keep"):
            if sources != ["__name__"]:
                pytest.fail(f"cannot tell which metrics {r} drops; extend this test")
            matches = re.fullmatch(r.get("regex", "(.*)"), name) is not None
            if matches == (action == "drop"):
                return True
        elif r.get("targetLabel") == "__name__":
            pytest.fail(f"{r} renames metrics; extend this test")
    return False


def rendered(render_chart: Any, values: Path | None) -> list[dict[str, Any]]:
    args = ["--set", "serviceMonitor.enabled=true", "--set", "prometheusRule.enabled=true"]
    return render_chart(*args, *(["-f", str(values)] if values else []))


@pytest.mark.parametrize("values_name", list(VALUES_FILES))
def test_shipped_values_drop_no_metric_a_panel_or_alert_reads(
    render_chart: Any, values_name: str
) -> None:
    docs = rendered(render_chart, VALUES_FILES[values_name])
    relabelings = find_kind(docs, "ServiceMonitor")["spec"]["endpoints"][0].get(
        "metricRelabelings", []
    )
    rules = find_kind(docs, "PrometheusRule")["spec"]["groups"]
    readers = {
        name: [f"panel {t!r}" for t in titles] for name, titles in panels_by_metric().items()
    }
    for rule in (r for group in rules for r in group["rules"]):
        for name in queried_metrics(rule["expr"]):
            readers.setdefault(name, []).append(rule.get("alert") or rule["record"])
    lost = {name: who for name, who in readers.items() if dropped(name, relabelings)}
    assert lost == {}, f"{values_name} drops metrics that are read"


def test_a_drop_of_a_read_metric_is_caught() -> None:
    """The drop ci/all-on-values.yaml once had: it empties the GC panel."""
    relabelings = [{"sourceLabels": ["__name__"], "regex": "python_gc_.*", "action": "drop"}]
    lost = [n for n in panels_by_metric() if dropped(n, relabelings)]
    assert lost == ["python_gc_collections_total"]
    keep_http = [{"sourceLabels": ["__name__"], "regex": "http_.*", "action": "keep"}]
    assert dropped("process_cpu_seconds_total", keep_http)
    assert not dropped("http_requests_total", keep_http)


def doc_panel_table() -> dict[str, list[str]]:
    """docs/monitoring.md's `| metric | panels |` table under "Dropping metrics"."""
    text = MONITORING_DOC.read_text()
    section = text.split("### Dropping metrics", 1)[1].split("\n#", 1)[0]
    table: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`"):
            table[cells[0].strip("`")] = [t.strip() for t in cells[1].split(";")]
    return table


def test_monitoring_doc_says_which_panels_each_metric_feeds() -> None:
    assert doc_panel_table() == panels_by_metric()
