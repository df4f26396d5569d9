"""Shared helpers of the chart tests: values sets, running helm, finding rendered objects.

The chart is rendered with tests/support/helm.py's `render_chart` (re-exported here with the
tool finder and the Kubernetes versions).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.support.helm import (
    CHART_DIR,
    KUBE_VERSION,
    NAMESPACE,
    OLDEST_KUBE_VERSION,
    RELEASE,
    render_chart,
)
from tests.support.tools import tool

__all__ = [
    "CHART_DIR",
    "ENVIRONMENTS",
    "HELM_BINARIES",
    "KUBE_VERSION",
    "NAMESPACE",
    "OLDEST_KUBE_VERSION",
    "RELEASE",
    "VALUES_SETS",
    "by_kind",
    "one",
    "render_chart",
    "run",
    "tool",
]

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

# `helm` is Helm 4, the primary; Helm 3 (`helm3`, security fixes until 2027-02-10) must still
# lint, render and unit-test the chart.
HELM_BINARIES = ("helm", "helm3")


def run(
    cmd: Sequence[str], timeout: int = 180, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd), capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
    )


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [doc for doc in docs if doc.get("kind") == kind]


def one(docs: list[dict], kind: str) -> dict:
    found = by_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]
