"""Checks a running Prometheus through its HTTP API: what ci/smoke.sh asserts about the
release's scrape targets, series, rules and alerts. Standard library only, so that any
python3 runs it. Each check waits (bounded) for its condition and exits non-zero with what it
saw last; prints one line on success.
Over 250 lines because each check is a few lines over one shared, bounded API client.

    python3 ci/prometheus_check.py --url http://127.0.0.1:9090 targets \\
        --namespace NS --job JOB --pods pod-a,pod-b
    ... series --namespace NS --job JOB --endpoint '/items/{item_id}'
    ... queries --namespace NS --job JOB --dashboard FILE --rules FILE
    ... alert --name ALERTNAME --state firing|inactive

The dashboard helpers are shared with tests/monitoring/ (the loopback Prometheus test).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

# Labels a target carries after the Prometheus Operator's relabelling (docs/monitoring.md's table).
TARGET_LABELS = ("namespace", "service", "pod", "job", "container", "instance")


class CheckFailed(Exception):
    pass


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as resp:  # noqa: S310 (the port-forward on loopback)
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read() or b"{}")

    def query(self, expr: str) -> dict[str, Any]:
        return self.get("/api/v1/query", query=expr)


def wait(what: str, check: Callable[[], tuple[bool, Any]], timeout: float) -> Any:
    """Calls check() until it returns (True, value); raises with the last value on time-out."""
    deadline = time.monotonic() + timeout
    while True:
        ok, value = check()
        if ok:
            return value
        if time.monotonic() >= deadline:
            raise CheckFailed(f"{what}: not true after {timeout:.0f}s; last seen: {value}")
        time.sleep(1)


def dashboard_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expr) of every panel target, rows' nested panels included."""
    queries = []
    stack = list(dashboard["panels"])
    while stack:
        panel = stack.pop(0)
        stack.extend(panel.get("panels", []))
        for target in panel.get("targets", []):
            queries.append((panel["title"], target["expr"]))
    return queries


def expand_dashboard_variables(
    expr: str, *, namespace: str, job: str, endpoint: str = ".*", rate_interval: str = "1m"
) -> str:
    """`expr` as Grafana sends it: template variables and $__ intervals replaced."""
    replacements = {
        "$__rate_interval": rate_interval,
        "$__range": rate_interval,
        "$__interval": rate_interval,
        "$namespace": namespace,
        "$job": job,
        "$endpoint": endpoint,
    }
    for name, value in replacements.items():
        expr = expr.replace(name, value)
    if "$" in expr:
        raise ValueError(f"unexpanded variable in {expr}")
    return expr


def check_targets(prom: Prometheus, args: argparse.Namespace) -> str:
    """The job's active targets are exactly the given pods, all up, found by Kubernetes
    service discovery through the operator's scrape pool, with the documented labels."""
    want = set(args.pods.split(","))
    start = time.monotonic()

    up_expr = f'up{{namespace="{args.namespace}", job="{args.job}"}}'
    if args.recent:
        # Only series scraped lately: a scrape pool removed by a reload (its ServiceMonitor
        # deleted) writes no staleness markers, and its last `up` samples stay visible for
        # the 5-minute lookback.
        up_expr = f"{up_expr} and timestamp({up_expr}) > time() - {args.recent:g}"

    def targets() -> tuple[bool, Any]:
        active = prom.get("/api/v1/targets", state="active")["data"]["activeTargets"]
        mine = [
            t
            for t in active
            if t["labels"].get("namespace") == args.namespace and t["labels"].get("job") == args.job
        ]
        seen = {t["labels"].get("pod"): t["health"] for t in mine}
        # The `up` series too: a target that left has its series marked stale at once.
        up = {r["metric"].get("pod"): r["value"][1] for r in prom.query(up_expr)["data"]["result"]}
        ok = set(seen) == want and all(h == "up" for h in seen.values())
        return ok and up == dict.fromkeys(want, "1"), (seen, up, mine)

    _, _, found = wait(f"targets of job {args.job} == pods {sorted(want)}", targets, args.timeout)
    appeared = time.monotonic() - start
    for target in found:
        labels, discovered = target["labels"], target["discoveredLabels"]
        missing = [name for name in TARGET_LABELS if not labels.get(name)]
        if missing:
            raise CheckFailed(f"target {labels} lacks {missing}")
        if "endpoint" in labels:
            raise CheckFailed(f"target keeps the operator's endpoint label: {labels}")
        if not target["scrapePool"].startswith(f"serviceMonitor/{args.namespace}/"):
            raise CheckFailed(f"not the ServiceMonitor's scrape pool: {target['scrapePool']}")
        if "__meta_kubernetes_pod_name" not in discovered:
            raise CheckFailed(f"not found by Kubernetes service discovery: {discovered}")
    return (
        f"{len(want)} targets up, found by Kubernetes service discovery "
        f"({found[0]['scrapePool']}), labels {sorted(found[0]['labels'])}; "
        f"all present after {appeared:.0f}s"
    )


def check_series(prom: Prometheus, args: argparse.Namespace) -> str:
    """Request counter and duration histogram series with the app's own endpoint label."""
    sel = f'namespace="{args.namespace}", job="{args.job}", endpoint="{args.endpoint}"'
    exprs = [
        f"sum(http_requests_total{{{sel}}})",
        f"sum(http_request_duration_seconds_count{{{sel}}})",
        "histogram_quantile(0.99, sum by (le) "
        f"(rate(http_request_duration_seconds_bucket{{{sel}}}[1m])))",
    ]

    def present() -> tuple[bool, Any]:
        answers = [prom.query(e) for e in exprs]
        return all(a.get("status") == "success" and a["data"]["result"] for a in answers), answers

    answers = wait(f"series with endpoint={args.endpoint}", present, args.timeout)
    total = float(answers[0]["data"]["result"][0]["value"][1])
    return f"http_requests_total{{endpoint={args.endpoint!r}}} = {total:.0f}, histogram queryable"


def check_queries(prom: Prometheus, args: argparse.Namespace) -> str:
    """Every dashboard query and rule expression evaluates; every rule group of the
    PrometheusRule is loaded by Prometheus with health ok."""
    with open(args.dashboard, encoding="utf-8") as f:
        dashboard = json.load(f)
    with open(args.rules, encoding="utf-8") as f:
        rule = json.load(f)
    exprs = [
        (f"panel {title!r}", expand_dashboard_variables(e, namespace=args.namespace, job=args.job))
        for title, e in dashboard_queries(dashboard)
    ]
    groups = rule["spec"]["groups"]
    exprs += [
        (f"rule {r.get('alert') or r.get('record')}", r["expr"]) for g in groups for r in g["rules"]
    ]
    errors = []
    for what, expr in exprs:
        answer = prom.query(expr)
        if answer.get("status") != "success":
            errors.append(f"{what}: {answer.get('error')}")
    if errors:
        raise CheckFailed("queries failed:\n" + "\n".join(errors))

    want = {g["name"]: len(g["rules"]) for g in groups}

    def loaded() -> tuple[bool, Any]:
        found = {
            g["name"]: [r for r in g["rules"] if r["health"] == "ok" and r.get("lastEvaluation")]
            for g in prom.get("/api/v1/rules")["data"]["groups"]
            if g["name"] in want
        }
        counts = {name: len(rules) for name, rules in found.items()}
        return counts == want, counts

    wait(f"rule groups {want} loaded, evaluated, health ok", loaded, args.timeout)
    return (
        f"{len(exprs)} dashboard and rule queries evaluate; rule groups loaded, health ok: {want}"
    )


def check_alert(prom: Prometheus, args: argparse.Namespace) -> str:
    """The alert reaches the state: firing, or inactive (no longer pending or firing)."""
    start = time.monotonic()

    def state() -> tuple[bool, Any]:
        alerts = [
            a
            for a in prom.get("/api/v1/alerts")["data"]["alerts"]
            if a["labels"].get("alertname") == args.name
        ]
        states = sorted({a["state"] for a in alerts}) or ["inactive"]
        return states == [args.state], states

    wait(f"alert {args.name} {args.state}", state, args.timeout)
    return f"alert {args.name} {args.state} after {time.monotonic() - start:.0f}s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--timeout", type=float, default=120)
    sub = parser.add_subparsers(dest="check", required=True)
    for name in ("targets", "series", "queries"):
        p = sub.add_parser(name)
        p.add_argument("--namespace", required=True)
        p.add_argument("--job", required=True)
    sub.choices["targets"].add_argument("--pods", required=True)
    sub.choices["targets"].add_argument(
        "--recent", type=float, default=0, help="ignore up series not scraped in SECONDS"
    )
    sub.choices["series"].add_argument("--endpoint", required=True)
    sub.choices["queries"].add_argument("--dashboard", required=True)
    sub.choices["queries"].add_argument("--rules", required=True)
    alert = sub.add_parser("alert")
    alert.add_argument("--name", required=True)
    alert.add_argument("--state", choices=("firing", "inactive"), required=True)
    args = parser.parse_args()

    checks = {
        "targets": check_targets,
        "series": check_series,
        "queries": check_queries,
        "alert": check_alert,
    }
    try:
        print(checks[args.check](Prometheus(args.url), args))
    except CheckFailed as exc:
        print(f"prometheus check failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
