"""Chart.yaml metadata and what `helm package` ships."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
import yaml

from tests.support.helm import helm_template

from ._helm import CHART_DIR, OLDEST_KUBE_VERSION, run

CHART = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())


def test_chart_yaml_metadata() -> None:
    assert CHART["apiVersion"] == "v2"
    assert CHART["type"] == "application"
    assert CHART["name"] == CHART_DIR.name
    assert isinstance(CHART["appVersion"], str)
    assert CHART["kubeVersion"] == f">={OLDEST_KUBE_VERSION}-0"
    assert CHART["maintainers"]
    assert CHART["annotations"]["artifacthub.io/license"]
    assert CHART["keywords"]


def test_kube_version_floor_is_enforced(helm_bin: str) -> None:
    proc = helm_template(helm=helm_bin, kube_version="1.24.0")
    assert proc.returncode != 0
    assert "kubeVersion" in proc.stderr or f">={OLDEST_KUBE_VERSION}-0" in proc.stderr


@pytest.mark.parametrize(
    "values_file", ["values-dev.yaml", "values-staging.yaml", "values-prod.yaml"]
)
def test_overlays_are_small(values_file: str) -> None:
    """Overlays hold what differs, not a copy of values.yaml."""
    defaults = (CHART_DIR / "values.yaml").read_text().count("\n")
    overlay = (CHART_DIR / values_file).read_text().count("\n")
    assert overlay * 5 < defaults


def test_package_ships_templates_and_overlays_but_not_tests(helm_bin: str, tmp_path: Path) -> None:
    proc = run([helm_bin, "package", str(CHART_DIR), "--destination", str(tmp_path)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (archive,) = tmp_path.glob("*.tgz")
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames()}
    assert {
        "templates/tests/test-connection.yaml",
        "values.schema.json",
        "values-prod.yaml",
        "README.md",
    } <= names
    assert not any(name.startswith(("tests/", "ci/")) for name in names)
