"""Render the Helm chart with the pinned helm for the policy and corpus checks (release `rel`)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

from tests.support import helm
from tests.support.helm import CHART_DIR

RELEASE = "rel"


def environment_overlays() -> list[Path]:
    """Every environment overlay shipped with the chart (values-<env>.yaml)."""
    return sorted(CHART_DIR.glob("values-*.yaml"))


def values_sets() -> dict[str, list[Path]]:
    """The defaults plus each environment overlay, by name."""
    sets: dict[str, list[Path]] = {"defaults": []}
    for overlay in environment_overlays():
        sets[overlay.stem.removeprefix("values-")] = [overlay]
    return sets


# The one `helm template` wrapper (tests/support/helm.py), for this suite's release name.
helm_template = functools.partial(helm.helm_template, release=RELEASE)
render = functools.partial(helm.render_chart, release=RELEASE)


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
