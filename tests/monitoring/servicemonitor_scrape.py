"""Turn a rendered ServiceMonitor into Prometheus scrape configs, as the Prometheus Operator does.

The Operator generates one scrape job per ServiceMonitor endpoint. Its target discovery is
`kubernetes_sd_configs` (role endpoints) over the Services that `spec.selector` and
`spec.namespaceSelector` pick, followed by generated `relabel_configs` that keep the matching
Service and port and set the `namespace`, `service`, `pod`, `container`, `job` and `endpoint`
labels, then the user's relabelings.

No cluster exists here, so the discovery, and only the discovery, is replaced: one static
target (the app on 127.0.0.1) carries the `__meta_kubernetes_*` labels the endpoints role would
give it, taken from the rendered Service and Deployment. Everything after discovery is the
Operator's own logic, so a ServiceMonitor whose selector or port does not match the Service
ends up with no target, just as in a cluster.

Mapped ServiceMonitor fields:
- spec.selector.matchLabels        -> keep relabelings on the Service's labels
- spec.namespaceSelector           -> checked against the Service's namespace (matchNames/any)
- spec.jobLabel                    -> `job` from that Service label (else the Service name)
- endpoints[].port                 -> keep relabeling on the endpoint port name, `endpoint` label
- endpoints[].path                 -> metrics_path
- endpoints[].scheme               -> scheme
- endpoints[].interval             -> scrape_interval
- endpoints[].scrapeTimeout        -> scrape_timeout
- endpoints[].honorLabels          -> honor_labels
- endpoints[].honorTimestamps      -> honor_timestamps
- endpoints[].params               -> params
- endpoints[].followRedirects      -> follow_redirects
- endpoints[].enableHttp2          -> enable_http2
- endpoints[].relabelings          -> relabel_configs, after the generated ones
- endpoints[].metricRelabelings    -> metric_relabel_configs

Anything else (TLS, auth, proxies, targetPort, label limits, spec.selector.matchExpressions,
spec.podTargetLabels/targetLabels, ...) raises ValueError, so a chart change that relies on a
field this converter ignores fails the test instead of being silently dropped. Not modelled:
the Operator's sharding (hashmod) relabeling, which with one shard keeps every target, and its
drop of Succeeded/Failed pods (the static pod is running).

Over 250 lines because it is the Operator's relabelling, step by step, in its own order.
"""

from __future__ import annotations

import re
from typing import Any

SUPPORTED_SPEC = {"selector", "namespaceSelector", "endpoints", "jobLabel"}
SUPPORTED_ENDPOINT = {
    "port",
    "path",
    "scheme",
    "interval",
    "scrapeTimeout",
    "honorLabels",
    "honorTimestamps",
    "params",
    "followRedirects",
    "enableHttp2",
    "relabelings",
    "metricRelabelings",
}
RELABEL_FIELDS = {
    "sourceLabels": "source_labels",
    "separator": "separator",
    "targetLabel": "target_label",
    "regex": "regex",
    "modulus": "modulus",
    "replacement": "replacement",
    "action": "action",
}
ENDPOINT_FIELDS = {
    "path": "metrics_path",
    "scheme": "scheme",
    "interval": "scrape_interval",
    "scrapeTimeout": "scrape_timeout",
    "honorLabels": "honor_labels",
    "honorTimestamps": "honor_timestamps",
    "params": "params",
    "followRedirects": "follow_redirects",
    "enableHttp2": "enable_http2",
}


def sanitize(name: str) -> str:
    """A Kubernetes label name as a Prometheus label name suffix (what kubernetes_sd does)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def convert_relabelings(relabelings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Operator RelabelConfig (camelCase, any-case action) -> Prometheus relabel_config."""
    converted = []
    for relabeling in relabelings:
        unknown = set(relabeling) - set(RELABEL_FIELDS)
        if unknown:
            raise ValueError(f"relabeling fields not supported: {sorted(unknown)}")
        config = {RELABEL_FIELDS[key]: value for key, value in relabeling.items()}
        if "action" in config:
            config["action"] = config["action"].lower()
        converted.append(config)
    return converted


def _service_port_name(service: dict[str, Any], port: str) -> str:
    names = [p.get("name") for p in service["spec"]["ports"]]
    if port not in names:
        # The Operator would select no endpoint at all; keep the port so the keep-relabeling
        # drops the target, as it would in the cluster.
        return names[0] or ""
    return port


def discovered_labels(
    service: dict[str, Any], *, namespace: str, port_name: str, pod: str, container: str
) -> dict[str, str]:
    """The `__meta_kubernetes_*` labels of the endpoints role for one ready pod endpoint."""
    labels = {
        "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_service_name": service["metadata"]["name"],
        "__meta_kubernetes_endpoint_port_name": port_name,
        "__meta_kubernetes_endpoint_port_protocol": "TCP",
        "__meta_kubernetes_endpoint_ready": "true",
        "__meta_kubernetes_endpoint_address_target_kind": "Pod",
        "__meta_kubernetes_endpoint_address_target_name": pod,
        "__meta_kubernetes_pod_name": pod,
        "__meta_kubernetes_pod_container_name": container,
        "__meta_kubernetes_pod_container_port_name": port_name,
        "__meta_kubernetes_pod_ready": "true",
        "__meta_kubernetes_pod_phase": "Running",
    }
    for key, value in (service["metadata"].get("labels") or {}).items():
        labels[f"__meta_kubernetes_service_label_{sanitize(key)}"] = str(value)
        labels[f"__meta_kubernetes_service_labelpresent_{sanitize(key)}"] = "true"
    return labels


def generated_relabelings(spec: dict[str, Any], endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    """The relabel_configs the Operator puts before the user's relabelings."""
    selector = spec.get("selector") or {}
    if set(selector) - {"matchLabels"}:
        raise ValueError(
            f"selector fields not supported: {sorted(set(selector) - {'matchLabels'})}"
        )
    configs: list[dict[str, Any]] = [
        {"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"},
    ]
    for key, value in (selector.get("matchLabels") or {}).items():
        configs.append(
            {
                "action": "keep",
                "source_labels": [
                    f"__meta_kubernetes_service_label_{sanitize(key)}",
                    f"__meta_kubernetes_service_labelpresent_{sanitize(key)}",
                ],
                "regex": f"({re.escape(str(value))});true",
            }
        )
    configs.append(
        {
            "action": "keep",
            "source_labels": ["__meta_kubernetes_endpoint_port_name"],
            "regex": re.escape(endpoint["port"]),
        }
    )
    for kind, label in (("Node", "node"), ("Pod", "pod")):
        configs.append(
            {
                "source_labels": [
                    "__meta_kubernetes_endpoint_address_target_kind",
                    "__meta_kubernetes_endpoint_address_target_name",
                ],
                "separator": ";",
                "regex": f"{kind};(.*)",
                "replacement": "${1}",
                "target_label": label,
            }
        )
    for meta, label in (
        ("__meta_kubernetes_namespace", "namespace"),
        ("__meta_kubernetes_service_name", "service"),
        ("__meta_kubernetes_pod_name", "pod"),
        ("__meta_kubernetes_pod_container_name", "container"),
        ("__meta_kubernetes_service_name", "job"),
    ):
        configs.append({"source_labels": [meta], "target_label": label})
    if spec.get("jobLabel"):
        configs.append(
            {
                "source_labels": [f"__meta_kubernetes_service_label_{sanitize(spec['jobLabel'])}"],
                "regex": "(.+)",
                "replacement": "${1}",
                "target_label": "job",
            }
        )
    configs.append({"target_label": "endpoint", "replacement": endpoint["port"]})
    return configs


def selects_namespace(spec: dict[str, Any], monitor_namespace: str, namespace: str) -> bool:
    selector = spec.get("namespaceSelector") or {}
    if selector.get("any"):
        return True
    return namespace in (selector.get("matchNames") or [monitor_namespace])


def scrape_configs(
    service_monitor: dict[str, Any],
    service: dict[str, Any],
    *,
    namespace: str,
    target: str,
    pod: str,
    container: str,
) -> list[dict[str, Any]]:
    """Prometheus scrape_configs for `service_monitor`, discovering `target` as `pod`.

    `namespace` is the release namespace (rendered manifests carry none); the Service is
    assumed to live there, as the chart installs it.
    """
    spec = service_monitor["spec"]
    unknown = set(spec) - SUPPORTED_SPEC
    if unknown:
        raise ValueError(f"ServiceMonitor spec fields not supported: {sorted(unknown)}")
    monitor_namespace = service_monitor["metadata"].get("namespace", namespace)
    name = service_monitor["metadata"]["name"]
    configs = []
    for index, endpoint in enumerate(spec["endpoints"]):
        unknown = set(endpoint) - SUPPORTED_ENDPOINT
        if unknown:
            raise ValueError(f"ServiceMonitor endpoint fields not supported: {sorted(unknown)}")
        if "port" not in endpoint:
            raise ValueError("only endpoints that name a Service port are supported")
        config: dict[str, Any] = {"job_name": f"serviceMonitor/{monitor_namespace}/{name}/{index}"}
        for key, option in ENDPOINT_FIELDS.items():
            if key in endpoint:
                config[option] = endpoint[key]
        targets = []
        if selects_namespace(spec, monitor_namespace, namespace):
            targets.append(
                {
                    "targets": [target],
                    "labels": discovered_labels(
                        service,
                        namespace=namespace,
                        port_name=_service_port_name(service, endpoint["port"]),
                        pod=pod,
                        container=container,
                    ),
                }
            )
        config["static_configs"] = targets
        config["relabel_configs"] = generated_relabelings(spec, endpoint) + convert_relabelings(
            endpoint.get("relabelings") or []
        )
        if endpoint.get("metricRelabelings"):
            config["metric_relabel_configs"] = convert_relabelings(endpoint["metricRelabelings"])
        configs.append(config)
    return configs
