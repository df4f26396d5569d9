"""Render the Helm chart with the pinned helm for the policy and corpus checks."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import yaml

from tests.support.appproc import REPO_ROOT

CHART_DIR = REPO_ROOT / "charts" / "production-api"
RELEASE = "rel"
NAMESPACE = "apps"
# Render CRD-backed objects too (the ServiceMonitor), as a cluster with the operator would.
API_VERSIONS = ("monitoring.coreos.com/v1",)
KUBE_VERSION = "1.37.0"


def tool(name: str) -> str:
    """Path of a CLI installed by ci/install-tools.sh; a missing tool fails the test."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH: run ci/install-tools.sh and source ci/lib.sh")
    return path


def environment_overlays() -> list[Path]:
    """Every environment overlay shipped with the chart (values-<env>.yaml)."""
    return sorted(CHART_DIR.glob("values-*.yaml"))


def values_sets() -> dict[str, list[Path]]:
    """The defaults plus each environment overlay, by name."""
    sets: dict[str, list[Path]] = {"defaults": []}
    for overlay in environment_overlays():
        sets[overlay.stem.removeprefix("values-")] = [overlay]
    return sets


def helm_template(
    values_files: Sequence[Path] = (), set_values: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    cmd = [
        tool("helm"), "template", RELEASE, str(CHART_DIR),
        "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION,
    ]  # fmt: skip
    for api in API_VERSIONS:
        cmd += ["--api-versions", api]
    for values in values_files:
        cmd += ["--values", str(values)]
    for item in set_values:
        cmd += ["--set", item]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def render(values_files: Sequence[Path] = (), set_values: Sequence[str] = ()) -> list[dict]:
    """Rendered documents, hooks (the helm test pod) included; a failed render fails the test."""
    proc = helm_template(values_files, set_values)
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def pod_specs(docs: list[dict]) -> Iterator[tuple[str, dict, dict]]:
    """(`Kind/name`, pod spec, pod metadata) of every object that creates pods."""
    for doc in docs:
        kind = doc.get("kind")
        name = f"{kind}/{doc.get('metadata', {}).get('name')}"
        spec = doc.get("spec", {})
        if kind == "Pod":
            yield name, spec, doc.get("metadata", {})
        elif kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}:
            template = spec["template"]
            yield name, template["spec"], template.get("metadata", {})
        elif kind == "CronJob":
            template = spec["jobTemplate"]["spec"]["template"]
            yield name, template["spec"], template.get("metadata", {})
