"""The chart and the app agree: version, port, probe and metrics paths, env var names and
values, allowed values, and the shutdown budget. The app (app.settings, app.main) is the
source of truth; these tests fail when either side drifts.
"""

from __future__ import annotations

import asyncio
import json
import re
import typing

import httpx
import pytest
import yaml
from fastapi import FastAPI

from ._helm import CHART_DIR, KUBE_VERSION, OLDEST_KUBE_VERSION, VALUES_SETS, one, render_chart

SCHEMA = json.loads((CHART_DIR / "values.schema.json").read_text())
DEFAULTS = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
GRACE_MARGIN_SECONDS = 5  # the contract's safety margin on top of preStop + drain + timeout
# The pod's identity from the downward API, which OTEL_RESOURCE_ATTRIBUTES refers to; the app
# itself never reads them.
DOWNWARD_API_ENV = {"K8S_POD_NAME", "K8S_NAMESPACE_NAME", "K8S_NODE_NAME"}


def _container(docs: list[dict]) -> dict:
    return one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def _chart_env(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def test_app_version_matches_chart_app_version() -> None:
    import app

    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    assert chart["appVersion"] == app.__version__


def _managed_env() -> dict[str, str]:
    """The env names the chart manages (extraEnv may not repeat them), tracing's included,
    mapped to their values key: the entries of the production-api.managedEnv helper."""
    helpers = (CHART_DIR / "templates" / "_helpers.tpl").read_text()
    # The define's own end is the `{{- end }}` followed by a blank line.
    body = helpers.split('define "production-api.managedEnv" -}}')[1].split("\n{{- end }}\n\n")[0]
    return dict(re.findall(r"^- \{name: ([A-Z0-9_]+), key: ([\w.]+)", body, re.MULTILINE))


def test_managed_env_list_is_what_the_chart_renders(helm: str) -> None:
    values = yaml.safe_load(VALUES_SETS["all-on"][0].read_text())
    extra = {e["name"] for e in values["extraEnv"]}
    container = _container(render_chart(VALUES_SETS["all-on"], helm=helm))
    rendered = {e["name"] for e in container["env"]} - extra
    assert rendered == set(_managed_env())


def test_chart_env_names_are_app_settings() -> None:
    from app.settings import ALLOWED, Settings

    app_vars = {name.upper() for name in Settings.model_fields}
    assert set(ALLOWED) == app_vars
    managed = set(_managed_env()) - DOWNWARD_API_ENV
    assert managed <= app_vars, managed - app_vars


@pytest.mark.parametrize("values_set", list(VALUES_SETS))
def test_rendered_env_is_accepted_by_the_app(
    helm: str, values_set: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The env the chart renders loads in app.settings and carries the values it was given."""
    from app.settings import ALLOWED, load_settings

    container = _container(render_chart(VALUES_SETS[values_set], helm=helm))
    env = {k: v for k, v in _chart_env(container).items() if k in ALLOWED}
    for name in ALLOWED:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.port == container["ports"][0]["containerPort"]
    assert container["ports"][0]["name"] == "http"
    assert settings.shutdown_drain_seconds == float(env["SHUTDOWN_DRAIN_SECONDS"])
    assert settings.shutdown_timeout_seconds == float(env["SHUTDOWN_TIMEOUT_SECONDS"])
    assert settings.app_env == env["APP_ENV"]
    assert settings.app_version == env["APP_VERSION"]
    assert settings.tracing_enabled is ("OTEL_TRACES_EXPORTER" in env)
    if settings.tracing_enabled:
        values = yaml.safe_load(VALUES_SETS[values_set][0].read_text())["tracing"]
        assert settings.otlp_traces_endpoint == values["endpoint"] + "/v1/traces"
        assert settings.otel_traces_sampler == values["sampler"]
        assert settings.otel_traces_sampler_arg == values["samplerRatio"]
        attributes = dict(settings.otel_resource_attributes)
        assert attributes["k8s.pod.name"] == "$(K8S_POD_NAME)"
        assert attributes.items() >= values["resourceAttributes"].items()


def test_chart_defaults_equal_app_defaults(helm: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every variable the chart renders with its defaults means what the app's own default
    means: a new setting's mapping is checked without a line here."""
    from app.settings import ALLOWED, Settings

    for name in ALLOWED:
        monkeypatch.delenv(name, raising=False)
    app_defaults = Settings()
    rendered = _chart_env(_container(render_chart([], helm=helm)))
    compared = []
    for name, value in rendered.items():
        if name not in ALLOWED:
            continue
        field = name.lower()
        with monkeypatch.context() as env:
            env.setenv(name, value)
            from_chart = getattr(Settings(), field)
        assert from_chart == getattr(app_defaults, field), (name, value)
        compared.append(name)
    assert {"PORT", "APP_ENV", "SHUTDOWN_DRAIN_SECONDS", "READINESS_TIMEOUT_SECONDS"} <= set(
        compared
    ), compared
    # Tracing is off by default, so its variables are not rendered: compared by value.
    assert DEFAULTS["tracing"]["probes"] == app_defaults.tracing_probes


def test_tracing_schema_offers_what_the_app_accepts() -> None:
    from app.settings import Sampler

    tracing = SCHEMA["properties"]["tracing"]["properties"]
    assert tracing["sampler"]["enum"] == list(typing.get_args(Sampler))
    assert DEFAULTS["tracing"]["sampler"] in tracing["sampler"]["enum"]
    assert tracing["protocol"]["enum"] == ["http/protobuf"]


@pytest.mark.parametrize(
    ("schema_key", "field"),
    [("env", "app_env"), ("logLevel", "log_level"), ("logFormat", "log_format")],
)
def test_schema_enums_equal_app_choices(schema_key: str, field: str) -> None:
    from app.settings import Settings

    choices = typing.get_args(Settings.model_fields[field].annotation)
    assert SCHEMA["properties"]["config"]["properties"][schema_key]["enum"] == list(choices)


async def _get_all(app: FastAPI, paths: set[str]) -> dict[str, int]:
    """GET each path in process, with the app's lifespan run around the requests."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://app") as client,
    ):
        return {path: (await client.get(path)).status_code for path in paths}


def test_probe_and_metrics_paths_answer_in_the_app(
    helm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every path the chart probes, scrapes or checks in `helm test` answers 200 in the app."""
    from app.main import create_app
    from app.settings import ALLOWED, load_settings

    docs = render_chart(VALUES_SETS["staging"], helm=helm)
    container = _container(docs)
    kinds = ("startupProbe", "livenessProbe", "readinessProbe")
    probes = {kind: container[kind]["httpGet"] for kind in kinds}
    assert {probe["port"] for probe in probes.values()} == {"http"}
    assert {probe["path"] for probe in probes.values()} == {"/health", "/readiness"}
    metrics_paths = {e["path"] for e in one(docs, "ServiceMonitor")["spec"]["endpoints"]}
    test_script = one(docs, "Pod")["spec"]["containers"][0]["command"][2]

    for name in ALLOWED:
        monkeypatch.delenv(name, raising=False)
    for name, value in _chart_env(container).items():
        monkeypatch.setenv(name, value)
    paths = {probe["path"] for probe in probes.values()} | metrics_paths
    statuses = asyncio.run(_get_all(create_app(load_settings()), paths))
    assert statuses == dict.fromkeys(paths, 200)
    for path in paths:
        assert f'"{path}"' in test_script, path


@pytest.mark.parametrize("values_set", list(VALUES_SETS))
@pytest.mark.parametrize("kubernetes_version", [OLDEST_KUBE_VERSION, KUBE_VERSION])
def test_grace_period_covers_the_shutdown_budget(
    helm: str, values_set: str, kubernetes_version: str
) -> None:
    """preStop sleep + SHUTDOWN_DRAIN_SECONDS + SHUTDOWN_TIMEOUT_SECONDS + margin fit in the
    grace period, and the readiness probe notices the drain before it ends."""
    docs = render_chart(VALUES_SETS[values_set], helm=helm, kube_version=kubernetes_version)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = _chart_env(container)
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    if "sleep" in pre_stop:
        sleep = pre_stop["sleep"]["seconds"]
    elif "exec" in pre_stop:
        assert pre_stop["exec"]["command"][0] == "sleep"
        sleep = float(pre_stop["exec"]["command"][1])
    else:
        sleep = 0
    budget = (
        sleep
        + float(env["SHUTDOWN_DRAIN_SECONDS"])
        + float(env["SHUTDOWN_TIMEOUT_SECONDS"])
        + GRACE_MARGIN_SECONDS
    )
    assert pod["terminationGracePeriodSeconds"] >= budget
