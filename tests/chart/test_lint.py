"""`helm lint --strict` with the defaults and each environment overlay, under Helm 3 and 4."""

from __future__ import annotations

import pytest

from ._helm import CHART_DIR, VALUES_SETS, run


@pytest.mark.parametrize("values_set", list(VALUES_SETS))
def test_lint_strict(helm_bin: str, values_set: str) -> None:
    cmd = [helm_bin, "lint", "--strict", str(CHART_DIR)]
    for values in VALUES_SETS[values_set]:
        cmd += ["--values", str(values)]
    proc = run(cmd)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "0 chart(s) failed" in output, output
    # lint only logs the chart's own `fail` checks (lint mode); they must not fire either
    assert "Fail:" not in output, output


def test_lint_fails_on_a_typo(helm_bin: str) -> None:
    """The schema makes lint (not only install) reject an unknown key, naming it."""
    proc = run([helm_bin, "lint", "--strict", str(CHART_DIR), "--set", "replicaCont=2"])
    assert proc.returncode != 0
    assert "replicaCont" in proc.stdout + proc.stderr
