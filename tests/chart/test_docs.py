"""charts/production-api/README.md is what helm-docs generates from values.yaml, and every
value carries a description."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import yaml

from ._helm import CHART_DIR, run, tool

README = CHART_DIR / "README.md"


def test_readme_is_current(tmp_path: Path) -> None:
    helm_docs = tool("helm-docs")
    chart_copy = tmp_path / CHART_DIR.name
    shutil.copytree(CHART_DIR, chart_copy)
    (chart_copy / "README.md").unlink(missing_ok=True)
    proc = run(
        [helm_docs, "--chart-search-root", str(chart_copy), "--template-files", "README.md.gotmpl"]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    generated = (chart_copy / "README.md").read_text()
    current = README.read_text()
    diff = "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            generated.splitlines(keepends=True),
            "README.md (committed)",
            "README.md (helm-docs)",
        )
    )
    assert not diff, f"README.md is stale; run helm-docs in {CHART_DIR}:\n{diff}"


def _leaf_keys(node: object, prefix: str = "") -> set[str]:
    if isinstance(node, dict) and node:
        keys: set[str] = set()
        for key, value in node.items():
            keys |= _leaf_keys(value, f"{prefix}{key}.")
        return keys
    return {prefix.rstrip(".")}


def test_every_value_is_documented() -> None:
    rows = {}
    table = README.read_text().split("| Key | Type | Default | Description |", 1)[1]
    for line in table.splitlines()[2:]:
        if not line.startswith("| "):
            break
        key, *_, description = (cell.strip() for cell in line.strip("|").split(" | "))
        rows[key] = description
    assert rows, "no values table in README.md"
    undocumented = sorted(key for key, desc in rows.items() if not desc)
    assert undocumented == []
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    # each leaf is in the table, itself or through a documented parent object
    missing = sorted(
        leaf
        for leaf in _leaf_keys(values)
        if not any(leaf == row or leaf.startswith(row + ".") for row in rows)
    )
    assert missing == []
