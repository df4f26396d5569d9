"""values.schema.json is what helm-values-schema-json generates from values.yaml's `# @schema`
annotations and schema/definitions.yaml, and a valid, strict schema that accepts every shipped
values file."""

from __future__ import annotations

import difflib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml

from ._helm import CHART_DIR, VALUES_SETS, run, tool

SCHEMA = json.loads((CHART_DIR / "values.schema.json").read_text())

# Kubernetes types passed through as-is; everything else the chart defines must forbid unknown
# keys (label and annotation maps constrain theirs with patternProperties or additionalProperties).
OPEN_OBJECTS = {
    "valueFrom",
    "nodeAffinity",
    "podAffinity",
    "podAntiAffinity",
    "volume",
    "topologySpreadConstraint",
    "headers",
    "queryParams",
}


def _objects(node: object, name: str = "") -> Iterator[tuple[str, dict]]:
    if isinstance(node, dict):
        # a values key typed by a definition (`$ref` beside `"additionalProperties": true`)
        # takes the keys the definition allows; the definition is checked where it is defined
        if node.get("type") == "object" and "$ref" not in node:
            yield name, node
        for key, child in node.items():
            yield from _objects(child, key if key not in ("properties", "items") else name)
    elif isinstance(node, list):
        for child in node:
            yield from _objects(child, name)


def _merge(base: dict, overlay: dict) -> dict:
    merged = dict(base)
    for key, value in overlay.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def test_schema_is_current(tmp_path: Path) -> None:
    """Regenerated in a copy of the chart (its .schema.yaml holds the generator's settings)."""
    generator = tool("helm-values-schema-json")
    chart_copy = tmp_path / CHART_DIR.name
    shutil.copytree(CHART_DIR, chart_copy)
    (chart_copy / "values.schema.json").unlink()
    proc = run([generator], cwd=chart_copy)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    generated = (chart_copy / "values.schema.json").read_text()
    current = (CHART_DIR / "values.schema.json").read_text()
    diff = "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            generated.splitlines(keepends=True),
            "values.schema.json (committed)",
            "values.schema.json (helm-values-schema-json)",
        )
    )
    assert not diff, (
        f"values.schema.json is stale; run helm-values-schema-json in {CHART_DIR}:\n{diff}"
    )


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_every_chart_object_forbids_unknown_keys() -> None:
    loose = [
        name
        for name, node in _objects(SCHEMA)
        if name not in OPEN_OBJECTS
        and node.get("additionalProperties") is not False
        and not isinstance(node.get("additionalProperties"), dict)
    ]
    assert loose == []


def test_every_values_key_is_in_the_schema() -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert set(values) <= set(SCHEMA["properties"])


@pytest.mark.parametrize("values_set", list(VALUES_SETS))
def test_values_sets_validate(values_set: str) -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    for path in VALUES_SETS[values_set]:
        values = _merge(values, yaml.safe_load(path.read_text()))
    jsonschema.Draft202012Validator(SCHEMA).validate(values)


@pytest.mark.parametrize(
    ("overlay", "key"),
    [
        ({"replicaCont": 1}, "replicaCont"),
        ({"config": {"logLevel": "verbose"}}, "logLevel"),
        ({"serviceMonitor": {"interval": "30 seconds"}}, "interval"),
        ({"resources": {"limits": {"memory": "1GB"}}}, "memory"),
    ],
)
def test_schema_rejects_and_names(overlay: dict, key: str) -> None:
    values = _merge(yaml.safe_load((CHART_DIR / "values.yaml").read_text()), overlay)
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(values))
    assert errors
    assert any(key in (e.message + "/".join(map(str, e.absolute_path))) for e in errors)
