"""Rendered manifests validated offline, in strict mode, against the schemas of the oldest
supported (the chart's kubeVersion floor) and the newest available Kubernetes.

Core kinds go through kubernetes-validate; monitoring.coreos.com kinds through the
prometheus-operator pydantic models with unknown fields forbidden; the Gateway API HTTPRoute
through the CRD schema of the sigs.k8s.io/gateway-api release pinned in ci/versions.env (put in
the tool cache by ci/install-tools.sh). A kind with no schema fails the test.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.prometheus_operator import v1 as prometheus_v1

from ._helm import (
    KUBE_VERSION,
    NAMESPACE,
    OLDEST_KUBE_VERSION,
    VALUES_SETS,
    by_kind,
    one,
    render_chart,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

PROMETHEUS_OPERATOR_MODELS = {
    "ServiceMonitor": prometheus_v1.ServiceMonitor,
    "PodMonitor": prometheus_v1.PodMonitor,
    "PrometheusRule": prometheus_v1.PrometheusRule,
}
GATEWAY_CRDS = {"HTTPRoute": "gateway.networking.k8s.io_httproutes.yaml"}


def _strict(schema: object) -> object:
    """OpenAPI v3 CRD schema -> JSON schema that rejects unknown fields (kubeconform -strict)."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        if schema.pop("nullable", False) and "type" in schema:
            schema["type"] = [schema["type"], "null"]
        return schema
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


def _gateway_api_dir() -> Path:
    versions = (REPO_ROOT / "ci" / "versions.env").read_text()
    version = re.search(r"^GATEWAY_API_VERSION=(\S+)", versions, re.M)
    assert version, "GATEWAY_API_VERSION missing from ci/versions.env"
    cache = os.environ.get("TOOLS_CACHE")
    assert cache, "TOOLS_CACHE is not set: run the tests through ci/test.sh"
    crds = Path(cache) / "schemas" / f"gateway-api-{version.group(1)}"
    assert crds.is_dir(), f"{crds} is missing: run ci/install-tools.sh"
    return crds


@functools.cache
def _gateway_schema(kind: str, version: str) -> dict:
    crd = yaml.safe_load((_gateway_api_dir() / GATEWAY_CRDS[kind]).read_text())
    served = {v["name"]: v for v in crd["spec"]["versions"]}
    schema = copy.deepcopy(served[version]["schema"]["openAPIV3Schema"])
    return _strict(schema)


def validate_object(obj: dict, kubernetes_version: str) -> None:
    """Raise if obj does not match the schema of its kind; a kind with no schema raises too."""
    group, _, version = obj["apiVersion"].rpartition("/")
    kind = obj["kind"]
    if group == "monitoring.coreos.com":
        if kind not in PROMETHEUS_OPERATOR_MODELS:
            raise LookupError(f"no schema for {obj['apiVersion']} {kind}")
        PROMETHEUS_OPERATOR_MODELS[kind].model_validate(obj, extra="forbid")
    elif group == "gateway.networking.k8s.io":
        if kind not in GATEWAY_CRDS:
            raise LookupError(f"no schema for {obj['apiVersion']} {kind}")
        jsonschema.Draft7Validator(_gateway_schema(kind, version)).validate(obj)
    else:
        kubernetes_validate.validate(obj, kubernetes_version, strict=True)


@pytest.mark.parametrize("kubernetes_version", [OLDEST_KUBE_VERSION, KUBE_VERSION])
@pytest.mark.parametrize("values_set", list(VALUES_SETS))
def test_rendered_manifests_are_schema_valid(
    helm_bin: str, values_set: str, kubernetes_version: str
) -> None:
    docs = render_chart(VALUES_SETS[values_set], helm=helm_bin, kube_version=kubernetes_version)
    assert docs
    for doc in docs:
        try:
            validate_object(doc, kubernetes_version)
        except Exception as exc:
            pytest.fail(
                f"{doc['kind']}/{doc['metadata']['name']} ({values_set}, "
                f"Kubernetes {kubernetes_version}): {exc}"
            )


def test_all_on_renders_every_kind(helm_bin: str) -> None:
    docs = render_chart(VALUES_SETS["all-on"], helm=helm_bin)
    kinds = sorted(doc["kind"] for doc in docs)
    assert kinds == sorted(
        [
            "Deployment",
            "HTTPRoute",
            "HTTPRoute",
            "HorizontalPodAutoscaler",
            "Ingress",
            "NetworkPolicy",
            "Pod",
            "PodDisruptionBudget",
            "Service",
            "ServiceAccount",
            "ServiceMonitor",
        ]
    )


def test_no_object_hard_codes_a_namespace(helm_bin: str) -> None:
    docs = render_chart(VALUES_SETS["all-on"], helm=helm_bin)
    assert [d["kind"] for d in docs if "namespace" in d["metadata"]] == []


def test_env_names_are_unique(helm_bin: str) -> None:
    """Helm 4 applies server-side, which rejects a container with a repeated env name."""
    for values_set, files in VALUES_SETS.items():
        deployment = one(render_chart(files, helm=helm_bin), "Deployment")
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            names = [env["name"] for env in container["env"]]
            assert len(names) == len(set(names)), (values_set, names)


@pytest.mark.parametrize("values_set", ["staging", "prod", "all-on"])
def test_servicemonitor_selects_the_service_and_its_port(helm: str, values_set: str) -> None:
    docs = render_chart(VALUES_SETS[values_set], helm=helm)
    monitor, service = one(docs, "ServiceMonitor"), one(docs, "Service")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    port_names = {port["name"] for port in service["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] in port_names
        assert endpoint["path"] == "/metrics"
    namespaces = monitor["spec"]["namespaceSelector"]
    assert namespaces.get("any") or NAMESPACE in namespaces["matchNames"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_servicemonitor_needs_the_crd_api(helm: str) -> None:
    docs = render_chart(VALUES_SETS["prod"], helm=helm, api_versions=())
    assert by_kind(docs, "ServiceMonitor") == []


def test_the_validators_reject_bad_objects(helm: str) -> None:
    """The checks above can fail: unknown fields, wrong types and unknown kinds are errors."""
    docs = render_chart(VALUES_SETS["all-on"], helm=helm)
    cases = []
    deployment = copy.deepcopy(one(docs, "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    cases.append(deployment)
    monitor = copy.deepcopy(one(docs, "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["prot"] = "http"
    cases.append(monitor)
    monitor = copy.deepcopy(one(docs, "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["interval"] = "30 seconds"
    cases.append(monitor)
    routes = by_kind(docs, "HTTPRoute")
    route = copy.deepcopy(next(r for r in routes if "backendRefs" in r["spec"]["rules"][0]))
    route["spec"]["rules"][0]["backendRef"] = route["spec"]["rules"][0].pop("backendRefs")
    cases.append(route)
    cases.append(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "Probe",
            "metadata": {"name": "x"},
            "spec": {},
        }
    )
    cases.append({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "x"}})
    for case in cases:
        with pytest.raises(Exception):  # noqa: B017, PT011 - each validator raises its own type
            validate_object(case, KUBE_VERSION)


def test_selectors_pick_only_the_app_pods(helm_bin: str) -> None:
    """The Service, PDB and NetworkPolicy select the Deployment's pods and not the test Pod,
    which would otherwise receive Service traffic while `helm test` runs."""
    docs = render_chart(VALUES_SETS["all-on"], helm=helm_bin)
    pod_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    test_labels = one(docs, "Pod")["metadata"]["labels"]
    selectors = {
        "Service": one(docs, "Service")["spec"]["selector"],
        "Deployment": one(docs, "Deployment")["spec"]["selector"]["matchLabels"],
        "PodDisruptionBudget": one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        "NetworkPolicy": one(docs, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"],
    }
    for kind, selector in selectors.items():
        assert selector.items() <= pod_labels.items(), kind
        assert not selector.items() <= test_labels.items(), kind
