"""Shared helpers of the chart tests: paths, values sets, running helm and rendering the chart."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "production-api"
RELEASE = "prod"
NAMESPACE = "apps"

# Values sets rendered and validated: the defaults, each environment overlay, and every
# optional object switched on.
VALUES_SETS: dict[str, list[Path]] = {
    "defaults": [],
    "dev": [CHART_DIR / "values-dev.yaml"],
    "staging": [CHART_DIR / "values-staging.yaml"],
    "prod": [CHART_DIR / "values-prod.yaml"],
    "all-on": [CHART_DIR / "ci" / "all-on-values.yaml"],
}
ENVIRONMENTS = ("dev", "staging", "prod")

# Helm 3 runs the unit tests; both Helm 3 and Helm 4 must lint and render the chart.
HELM_BINARIES = ("helm", "helm4")


def tool(name: str) -> str:
    """Path of a CLI installed by ci/install-tools.sh; a missing tool fails the test."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH: run ci/install-tools.sh and source ci/lib.sh")
    return path


def run(
    cmd: Sequence[str], timeout: int = 180, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd), capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
    )


def render_chart(
    helm: str,
    values_files: Sequence[Path] = (),
    *,
    kube_version: str = "1.37.0",
    api_versions: Sequence[str] = ("monitoring.coreos.com/v1",),
    set_values: Sequence[str] = (),
) -> list[dict]:
    """`helm template` the chart and return its documents (hooks such as the test Pod included)."""
    cmd = [
        helm,
        "template",
        RELEASE,
        str(CHART_DIR),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        kube_version,
    ]
    for api in api_versions:
        cmd += ["--api-versions", api]
    for values in values_files:
        cmd += ["--values", str(values)]
    for item in set_values:
        cmd += ["--set", item]
    proc = run(cmd)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stderr}"
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [doc for doc in docs if doc.get("kind") == kind]


def one(docs: list[dict], kind: str) -> dict:
    found = by_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]
