"""The helm-unittest suites in charts/production-api/tests/, run as users run them."""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from ._helm import CHART_DIR, run

SUITES_DIR = CHART_DIR / "tests"


def test_helm_unittest_suites_pass(helm_bin: str) -> None:
    """The plugin as users install it, under Helm 4 (a legacy `plugin.yaml` plugin) and 3."""
    plugins = Path(os.environ.get("HELM_PLUGINS", ""))
    assert (plugins / "unittest" / "plugin.yaml").is_file(), (
        f"helm-unittest plugin missing under HELM_PLUGINS={plugins}: run ci/install-tools.sh"
    )
    # No `--color=false`: Helm 4 takes `--color` as its own flag (never/auto/always) and stops;
    # without a terminal neither Helm colours the output.
    proc = run([helm_bin, "unittest", "--strict", str(CHART_DIR)], timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"helm unittest failed:\n{output}"
    summary = re.search(r"Tests:\s+(\d+) passed", output)
    assert summary, output
    assert int(summary.group(1)) >= 150, output


def _suites() -> dict[str, dict]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(SUITES_DIR.glob("*_test.yaml"))}


def test_every_template_has_a_suite() -> None:
    covered = set()
    for suite in _suites().values():
        covered.update(suite.get("templates", []))
        for case in suite["tests"]:
            covered.update(case.get("templates", []))
            if "template" in case:
                covered.add(case["template"])
    templates = {
        str(p.relative_to(CHART_DIR))
        for p in (CHART_DIR / "templates").rglob("*")
        if p.is_file() and not p.name.startswith("_")
    }
    assert templates - covered == set()


def test_at_least_25_bad_values_cases_name_the_key() -> None:
    failing = [
        assertion["failedTemplate"]
        for suite in _suites().values()
        for case in suite["tests"]
        for assertion in case["asserts"]
        if "failedTemplate" in assertion
    ]
    assert len(failing) >= 25
    assert all(f.get("errorPattern") or f.get("errorMessage") for f in failing)
