"""Policy scan with checkov of the rendered chart: the defaults and every environment overlay.

Goal: 0 failed checks outside tests/reliability/checkov-skips.yaml, where every skip names
the resources it covers and says why it does not apply. Runs offline (`--skip-download`,
CKV_SKIP_PACKAGE_UPDATE_CHECK=true).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.tools import tool

from ._support.chart import helm_template, values_sets

SKIPS_FILE = Path(__file__).parent / "checkov-skips.yaml"
DIGEST = "sha256:" + "0" * 64
# Opt-in hardening the skip list points to: with these set, the skipped checks pass.
HARDENED = [f"image.digest={DIGEST}", "networkPolicy.enabled=true"]


def load_skips() -> list[dict]:
    skips = yaml.safe_load(SKIPS_FILE.read_text())
    for skip in skips:
        assert set(skip) == {"check", "resources", "why"}, skip
        assert len(skip["why"].split()) >= 10, f"{skip['check']}: say why it does not apply"
    return skips


def skip_for(check_id: str, resource: str, skips: list[dict]) -> dict | None:
    for skip in skips:
        if skip["check"] == check_id and any(re.fullmatch(r, resource) for r in skip["resources"]):
            return skip
    return None


def checkov(directories: list[Path]) -> list[list[dict]]:
    """One checkov run per directory, all at once (each takes seconds of start-up alone)."""
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}
    runs = []
    for directory in directories:
        cmd = [
            tool("checkov"), "--directory", str(directory), "--framework", "kubernetes",
            "--output", "json", "--skip-download", "--compact",
        ]  # fmt: skip
        out = (directory.parent / f"{directory.name}.json").open("w+")
        err = (directory.parent / f"{directory.name}.err").open("w+")
        # Output to files, not pipes: no run may block on a pipe left unread.
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env, cwd=directory)
        runs.append((proc, out, err))
    reports = []
    for proc, out, err in runs:
        try:
            proc.wait(timeout=280)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
        out.close()
        err.close()
        assert proc.returncode in (0, 1), stderr[-3000:]
        data = json.loads(stdout)
        reports.append(data if isinstance(data, list) else [data])
    return reports


@pytest.fixture(scope="module")
def scan(tmp_path_factory) -> dict[str, dict[str, list[dict]]]:
    """Render each values set and scan it in its own checkov run.

    One directory per set: checkov's graph checks (e.g. CKV2_K8S_6) look across every file
    of a run, so a NetworkPolicy rendered for one set would satisfy them for the others.
    """
    renders = {name: helm_template(files) for name, files in values_sets().items()}
    renders["hardened"] = helm_template(set_values=HARDENED)
    directories = []
    for name, proc in renders.items():
        assert proc.returncode == 0, proc.stderr
        out = tmp_path_factory.mktemp(name)
        (out / f"{name}.yaml").write_text(proc.stdout)
        directories.append(out)
    results: dict[str, dict[str, list[dict]]] = {}
    for name, reports in zip(renders, checkov(directories), strict=True):
        for report in reports:
            for outcome in ("passed_checks", "failed_checks", "skipped_checks"):
                results.setdefault(name, {}).setdefault(outcome, []).extend(
                    report["results"].get(outcome, [])
                )
    return results


@pytest.mark.parametrize("name", sorted(values_sets()))
def test_no_failed_check_outside_the_skip_list(scan, name, figures):
    skips = load_skips()
    result = scan.get(name, {})
    failed = result.get("failed_checks", [])
    unexplained = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for c in failed
        if not skip_for(c["check_id"], c["resource"], skips)
    ]
    figures.setdefault("checkov", {})[name] = {
        "passed": len(result.get("passed_checks", [])),
        "failed_skipped_with_reason": len(failed) - len(unexplained),
        "failed_unexplained": len(unexplained),
        "resources": len({c["resource"] for o in result.values() for c in o}),
    }
    assert result.get("passed_checks"), f"checkov scanned nothing for {name}"
    assert not unexplained, "\n".join(unexplained)


def test_every_skip_is_used_and_justified(scan, figures):
    skips = load_skips()
    used = {
        s["check"]
        for result in scan.values()
        for c in result.get("failed_checks", [])
        if (s := skip_for(c["check_id"], c["resource"], skips))
    }
    figures.setdefault("checkov_skips", {}).update({s["check"]: s["why"] for s in skips})
    stale = [s["check"] for s in skips if s["check"] not in used]
    assert not stale, f"skips that match no failure any more: {stale}"


def test_opt_in_hardening_clears_the_skipped_digest_and_networkpolicy_checks(scan):
    failed = [(c["check_id"], c["resource"]) for c in scan["hardened"]["failed_checks"]]
    assert not [r for check, r in failed if check == "CKV_K8S_43"], failed
    assert not [r for check, r in failed if check == "CKV2_K8S_6" and "test-connection" not in r]
