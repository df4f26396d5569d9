"""The chart's PrometheusRule, checked and unit-tested with promtool.

The rule is rendered from the chart (release "web", namespace "shop", rules-values.yaml), its
spec.groups are written to a rule file, `promtool check rules` lints it and `promtool test
rules` runs rules_test.yaml against it: every alert fires on synthetic series that should
trigger it, and stays quiet on series that should not.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from promstack import HERE, find_kind

UNIT_TESTS = HERE / "rules_test.yaml"
RULES_VALUES = HERE / "rules-values.yaml"

# Annotations whose text depends on the alert's labels or value; rules_test.yaml spells them
# out. The others are fixed strings of the chart and are copied from the rendered rule.
TEMPLATED_ANNOTATIONS = {"description"}


@pytest.fixture(scope="module")
def rule(render_chart: Any) -> dict[str, Any]:
    return find_kind(render_chart("-f", str(RULES_VALUES)), "PrometheusRule")


def alert_rules(rule: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r]


def unit_tests_with_chart_annotations(rule: dict[str, Any]) -> dict[str, Any]:
    """rules_test.yaml with the fixed annotations of each expected alert filled in."""
    suite = yaml.safe_load(UNIT_TESTS.read_text())
    rules = alert_rules(rule)
    for group in suite["tests"]:
        for case in group.get("alert_rule_test", []):
            for expected in case.get("exp_alerts") or []:
                severity = expected["exp_labels"]["severity"]
                matching = [
                    r
                    for r in rules
                    if r["alert"] == case["alertname"] and r["labels"]["severity"] == severity
                ]
                assert len(matching) == 1, (case["alertname"], severity)
                for key, value in matching[0]["annotations"].items():
                    if key in TEMPLATED_ANNOTATIONS:
                        continue
                    assert "{{" not in value, f"{key} of {case['alertname']} is templated"
                    expected.setdefault("exp_annotations", {})[key] = value
    return suite


def write_rule_files(rule: dict[str, Any], directory: Path) -> Path:
    """rules.yaml (the PrometheusRule's groups) and rules_test.yaml; returns the test file."""
    (directory / "rules.yaml").write_text(
        yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False)
    )
    test_file = directory / "rules_test.yaml"
    test_file.write_text(yaml.safe_dump(unit_tests_with_chart_annotations(rule), sort_keys=False))
    return test_file


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_promtool_check_rules(rule: dict[str, Any], promtool: str, tmp_path: Path) -> None:
    write_rule_files(rule, tmp_path)
    result = run([promtool, "check", "rules", "rules.yaml"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_pass(rule: dict[str, Any], promtool: str, tmp_path: Path) -> None:
    test_file = write_rule_files(rule, tmp_path)
    result = run([promtool, "test", "rules", test_file.name], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_can_fail(render_chart: Any, promtool: str, tmp_path: Path) -> None:
    """With a threshold the synthetic errors do not reach, the firing case must fail."""
    rule = find_kind(
        render_chart(
            "-f",
            str(RULES_VALUES),
            "--set-json",
            "prometheusRule.alerts.highErrorRatio.threshold=0.5",
        ),
        "PrometheusRule",
    )
    test_file = write_rule_files(rule, tmp_path)
    result = run([promtool, "test", "rules", test_file.name], tmp_path)
    assert result.returncode != 0
    assert "ProductionApiHighErrorRatio" in result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_quiet(rule: dict[str, Any]) -> None:
    suite = yaml.safe_load(UNIT_TESTS.read_text())
    fired: set[tuple[str, str]] = set()
    quiet: set[str] = set()
    for group in suite["tests"]:
        for case in group.get("alert_rule_test", []):
            expected = case.get("exp_alerts") or []
            if not expected:
                quiet.add(case["alertname"])
            for alert in expected:
                fired.add((case["alertname"], alert["exp_labels"]["severity"]))
    rules = {(r["alert"], r["labels"]["severity"]) for r in alert_rules(rule)}
    assert rules - fired == set(), "alerts never shown firing"
    assert {name for name, _ in rules} - quiet == set(), "alerts never shown quiet"


def test_burn_rate_recording_rules_cover_every_window(rule: dict[str, Any]) -> None:
    recorded = {
        r["record"] for group in rule["spec"]["groups"] for r in group["rules"] if "record" in r
    }
    windows = {"5m", "30m", "1h", "2h", "6h", "1d", "3d"}
    assert recorded == {f"namespace_job:http_requests_errors:ratio_rate{w}" for w in windows}
    used = " ".join(
        r["expr"] for r in alert_rules(rule) if r["alert"] == "ProductionApiErrorBudgetBurn"
    )
    assert all(name in used for name in recorded)


def test_rule_carries_release_label_and_routing(rule: dict[str, Any]) -> None:
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    for alert in alert_rules(rule):
        assert alert["labels"]["team"] == "web"
        assert alert["annotations"]["runbook"]
        assert alert["annotations"]["runbook_url"] == (
            f"https://runbooks.example.com/production-api#{alert['alert'].lower()}"
        )
