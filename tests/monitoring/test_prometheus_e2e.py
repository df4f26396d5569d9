"""End to end: a real Prometheus scrapes the real service as the chart's ServiceMonitor says.

The service runs as `python -m app` (tests/conftest.py `start_app`), Prometheus (Debian's
package) on another free loopback port with temporary storage. The scrape job is derived from
the rendered ServiceMonitor by servicemonitor_scrape.py, the way the Prometheus Operator
derives it; only the Kubernetes service discovery is replaced by a static target carrying the
same discovery labels, since no cluster exists here. The chart's PrometheusRule groups are
loaded as Prometheus rule files. The test sends known traffic, then checks through the HTTP API
that the target is up, the request metrics arrived with the expected labels and values, and
every alert/recording expression and every dashboard query evaluates without error.

All waits are bounded; both processes are stopped by PID at teardown, also on failure.

Over 250 lines because its tests share one Prometheus and one service process.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import yaml
from promstack import (
    CHART,
    PrometheusProcess,
    dashboard_queries,
    expand_dashboard_variables,
    find_kind,
)
from servicemonitor_scrape import scrape_configs

from tests.support.wait import wait_for as support_wait_for

RELEASE = "web"
NAMESPACE = "shop"
JOB = "web-production-api"
POD = "web-production-api-7d4b9c8f5-x2x4z"
SCRAPE_WAIT = 45.0

# The metric drops of the chart's example values (ci/all-on-values.yaml), applied by a real
# Prometheus: every dashboard panel must still have data.
EXAMPLE_METRIC_RELABELINGS = yaml.safe_load((CHART / "ci" / "all-on-values.yaml").read_text())[
    "serviceMonitor"
]["metricRelabelings"]

# The scrape settings are overridden for speed; the relabelings prove that the ServiceMonitor's
# relabelings and metricRelabelings reach Prometheus.
RENDER_ARGS = (
    "--set", "serviceMonitor.enabled=true",
    "--set", "serviceMonitor.interval=1s",
    "--set", "serviceMonitor.scrapeTimeout=1s",
    "--set-json", 'serviceMonitor.relabelings=[{"targetLabel":"cluster","replacement":"e2e"}]',
    "--set-json", f"serviceMonitor.metricRelabelings={json.dumps(EXAMPLE_METRIC_RELABELINGS)}",
    "--set", "prometheusRule.enabled=true",
    "--set", "prometheusRule.interval=1s",
    "--set", "grafanaDashboard.enabled=true",
)  # fmt: skip

# (path, endpoint label, status): requests, sent in two equal rounds with scrapes in between,
# so that the counters have samples before and after an increase (rate() > 0).
TRAFFIC = {
    ("/items/1", "/items/{item_id}", "200"): 8,
    ("/items/abc", "/items/{item_id}", "422"): 4,
    ("/no/such/path", "unmatched", "404"): 2,
    ("/", "/", "200"): 4,
}
BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0"]


def wait_for(what: str, check: Callable[[], Any], timeout: float = SCRAPE_WAIT) -> Any:
    """The tests' polling (tests/support/wait.py) with the scrape wait as its default."""
    return support_wait_for(what, check, timeout)


def vector(prom: PrometheusProcess, expr: str) -> list[dict[str, Any]]:
    answer = prom.query(expr)
    assert answer["status"] == "success", f"{expr}: {answer}"
    return answer["data"]["result"]


def test_prometheus_scrapes_the_service_as_the_servicemonitor_says(
    render_chart: Any, start_app: Any, start_prometheus: Any
) -> None:
    docs = render_chart(*RENDER_ARGS, release=RELEASE, namespace=NAMESPACE)
    monitor = find_kind(docs, "ServiceMonitor")
    service = find_kind(docs, "Service")
    deployment = find_kind(docs, "Deployment")
    rule = find_kind(docs, "PrometheusRule")
    container = deployment["spec"]["template"]["spec"]["containers"][0]["name"]
    endpoint = monitor["spec"]["endpoints"][0]

    app = start_app(APP_ENV="staging", SHUTDOWN_DRAIN_SECONDS=0)
    configs = scrape_configs(
        monitor,
        service,
        namespace=NAMESPACE,
        target=f"127.0.0.1:{app.port}",
        pod=POD,
        container=container,
    )
    prom = start_prometheus(
        {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": configs,
        },
        rule["spec"]["groups"],
    )

    # 1. The target is discovered, labelled like the Operator labels it, and up.
    def active_up() -> list[dict[str, Any]]:
        targets = prom.get("/api/v1/targets")["data"]["activeTargets"]
        return [t for t in targets if t["health"] == "up"]

    (target,) = wait_for("the target to be up", active_up)
    # No `endpoint` target label: the chart's ServiceMonitor drops the Operator's
    # endpoint="http", which would otherwise rename the service's own `endpoint` label.
    assert target["labels"] == {
        "cluster": "e2e",
        "container": container,
        "instance": f"127.0.0.1:{app.port}",
        "job": JOB,
        "namespace": NAMESPACE,
        "pod": POD,
        "service": service["metadata"]["name"],
    }
    assert target["scrapePool"] == f"serviceMonitor/{NAMESPACE}/{monitor['metadata']['name']}/0"
    scrape_url = urlsplit(target["scrapeUrl"])
    assert scrape_url.scheme == endpoint["scheme"]
    assert scrape_url.path == endpoint["path"]
    assert target["scrapeInterval"] == endpoint["interval"]
    assert target["scrapeTimeout"] == endpoint["scrapeTimeout"]
    assert target["lastError"] == ""

    # 2. The request counters arrive with the route-template labels and exact counts.
    selector = f'namespace="{NAMESPACE}", job="{JOB}"'

    def send_round() -> None:
        for (path, _, status), count in TRAFFIC.items():
            for _ in range(count // 2):
                assert app.get(path)[0] == int(status), path

    def scraped(share: int) -> Callable[[], bool]:
        expected = {(e, s): str(n * share // 2) for (_, e, s), n in TRAFFIC.items()}

        def check() -> bool:
            result = vector(prom, f'http_requests_total{{{selector}, method="GET"}}')
            seen.append(result)
            values = {
                (r["metric"].get("endpoint"), r["metric"].get("status")): r["value"][1]
                for r in result
            }
            return {key: values.get(key) for key in expected} == expected

        return check

    seen: list[Any] = []
    try:
        for share in (1, 2):
            send_round()
            wait_for(f"round {share} of the traffic to be scraped", scraped(share))
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nlast answer: {seen[-1] if seen else None}") from None
    for (_, endpoint_label, status), count in TRAFFIC.items():
        (series,) = vector(
            prom,
            f'http_requests_total{{{selector}, method="GET", endpoint="{endpoint_label}",'
            f' status="{status}"}}',
        )
        assert series["value"][1] == str(count), (endpoint_label, status)
        assert set(series["metric"]) == {
            "__name__", "method", "endpoint", "status",
            "cluster", "container", "instance", "job", "namespace", "pod", "service",
        }  # fmt: skip
    assert not vector(prom, f'http_requests_total{{{selector}, endpoint=~"/items/(1|abc)"}}')

    # 3. The latency histogram: every bucket of the app, cumulative counts, +Inf = requests.
    buckets = vector(
        prom,
        f'http_request_duration_seconds_bucket{{{selector}, method="GET",'
        f' endpoint="/items/{{item_id}}"}}',
    )
    by_le = {b["metric"]["le"]: float(b["value"][1]) for b in buckets}
    assert sorted(by_le, key=lambda le: float(le)) == [*BUCKETS, "+Inf"]
    assert by_le["+Inf"] == 12
    ordered = [by_le[le] for le in [*BUCKETS, "+Inf"]]
    assert ordered == sorted(ordered)
    (count,) = vector(
        prom,
        f'http_request_duration_seconds_count{{{selector}, endpoint="/items/{{item_id}}"}}',
    )
    assert count["value"][1] == "12"

    # 4. The other metrics of the contract, and the metricRelabelings drop.
    (info,) = vector(prom, f"app_info{{{selector}}}")
    assert info["metric"]["env"] == "staging"
    assert info["metric"]["version"]
    assert vector(prom, f"http_requests_in_progress{{{selector}}}")
    assert vector(prom, f"process_resident_memory_bytes{{{selector}}}")
    assert vector(prom, f"python_gc_collections_total{{{selector}}}")
    assert vector(prom, f"python_info{{{selector}}}")
    assert not vector(prom, "python_gc_objects_collected_total")

    # 5. Every rule of the PrometheusRule evaluates without error, in the rule manager too.
    rules = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    for r in rules:
        answer = prom.query(r["expr"])
        assert answer["status"] == "success", f"{r.get('alert') or r.get('record')}: {answer}"

    def evaluated() -> list[dict[str, Any]]:
        loaded = [r for g in prom.get("/api/v1/rules")["data"]["groups"] for r in g["rules"]]
        done = all(r["lastEvaluation"] != "0001-01-01T00:00:00Z" for r in loaded)
        return loaded if loaded and done else []

    loaded = wait_for("every rule to be evaluated", evaluated)
    assert len(loaded) == len(rules)
    assert [r for r in loaded if r["health"] != "ok"] == []

    # A healthy, scraped service: once evaluated after the first scrapes, no alert is pending
    # or firing, and the recorded error ratio is 0 (no 5xx).
    def active_alerts() -> list[str] | None:
        groups = prom.get("/api/v1/rules", type="alert")["data"]["groups"]
        active = [r["name"] for g in groups for r in g["rules"] if r["state"] != "inactive"]
        seen_alerts.append(active)
        return None if active else ["none"]

    seen_alerts: list[list[str]] = []
    try:
        wait_for("every alert to be inactive", active_alerts)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nactive: {seen_alerts[-1]}") from None

    def error_ratio() -> list[dict[str, Any]]:
        return vector(prom, f"namespace_job:http_requests_errors:ratio_rate5m{{{selector}}}")

    (ratio,) = wait_for("the error ratio to be recorded", error_ratio)
    assert ratio["value"][1] == "0"

    # 6. Every dashboard query evaluates; the core panels have data.
    dashboard = json.loads((CHART / "dashboards" / "production-api.json").read_text())
    empty = []
    for title, expr in dashboard_queries(dashboard):
        query = expand_dashboard_variables(expr, namespace=NAMESPACE, job=JOB)
        answer = prom.query(query)
        assert answer["status"] == "success", f"{title}: {query}: {answer}"
        if not answer["data"]["result"]:
            empty.append(title)
    for title in (
        "Request rate by endpoint",
        "Latency p99 by endpoint",
        "Requests in flight",
        "CPU usage",
        "Resident memory",
        "Running versions",
        "Python GC collections",
    ):
        assert title not in empty, f"{title} has no data"

    # The dashboard's template variables find this job.
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    namespaces = prom.get("/api/v1/label/namespace/values", **{"match[]": "app_info"})["data"]
    assert NAMESPACE in namespaces
    assert variables["namespace"]["query"]["query"] == "label_values(app_info, namespace)"
