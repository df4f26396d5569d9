"""`helm template` of charts/production-api: the one wrapper the chart, reliability and
monitoring tests render the chart with.

    docs = render_chart(values_files=[CHART_DIR / "values-prod.yaml"])   # parsed documents
    proc = helm_template(set_values=["replicaCount=-1"])                 # the process itself

The chart is rendered for KUBE_VERSION unless a test asks for another version, with the
Prometheus Operator's API (monitoring.coreos.com/v1) declared available, as in a cluster with
its CRDs, so that the ServiceMonitor and the PrometheusRule render too.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.support.appproc import REPO_ROOT
from tests.support.tools import tool

CHART_DIR = REPO_ROOT / "charts" / "production-api"

# The Kubernetes versions the chart is rendered for. KUBE_VERSION is the newest Kubernetes
# the rendered manifests are validated against (kubernetes-validate's newest schemas), and
# the default of every render; OLDEST_KUBE_VERSION is the floor of Chart.yaml's kubeVersion.
KUBE_VERSION = "1.37.0"
OLDEST_KUBE_VERSION = "1.25.0"
API_VERSIONS = ("monitoring.coreos.com/v1",)
RELEASE = "prod"
NAMESPACE = "apps"


def helm_template(
    values_files: Sequence[Path] = (),
    *,
    helm: str = "helm",
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    kube_version: str = KUBE_VERSION,
    api_versions: Sequence[str] = API_VERSIONS,
    set_values: Sequence[str] = (),
    args: Sequence[str] = (),
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    """Runs `helm template` (`helm`: a name on PATH or a path) and returns the process;
    `args` are passed through after the values (e.g. `--set-json`)."""
    cmd = [
        tool(helm), "template", release, str(CHART_DIR),
        "--namespace", namespace, "--kube-version", kube_version,
    ]  # fmt: skip
    for api in api_versions:
        cmd += ["--api-versions", api]
    for values in values_files:
        cmd += ["--values", str(values)]
    for item in set_values:
        cmd += ["--set", item]
    cmd += args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def render_chart(values_files: Sequence[Path] = (), **options: Any) -> list[dict]:
    """The rendered documents, hooks (the helm test pod) included; a failed render fails the
    test. `options` are those of `helm_template`."""
    proc = helm_template(values_files, **options)
    assert proc.returncode == 0, f"{' '.join(proc.args)} failed:\n{proc.stderr}"
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
