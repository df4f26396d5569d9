"""GitHub Actions policy, beyond what actionlint checks: every action pinned by a full commit
SHA with its tag in a comment; no workflow-wide permissions; every job of the release workflow
declares its own, and only the jobs that publish may write packages or mint OIDC tokens."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", re.M)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_by_sha(workflow: Path) -> None:
    uses = USES.findall(workflow.read_text())
    assert uses
    for ref, comment in uses:
        action, _, version = ref.partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", version), f"{action} is not pinned by SHA: {ref}"
        assert re.search(r"#\s*v\d", comment), f"{ref}: no tag comment"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_permissions_are_read_only_or_empty(workflow: Path) -> None:
    data = yaml.safe_load(workflow.read_text())
    assert data["permissions"] in ({}, {"contents": "read"})


def test_release_jobs_have_least_privilege() -> None:
    data = yaml.safe_load((REPO_ROOT / ".github/workflows/release.yml").read_text())
    jobs = data["jobs"]
    assert data[True]["push"]["tags"]  # `on:` parses as True
    for name, job in jobs.items():
        assert "permissions" in job, f"job {name} has no permissions of its own"
    assert jobs["test"]["permissions"] == {"contents": "read"}
    assert jobs["image"]["permissions"] == {
        "contents": "read",
        "packages": "write",
        "id-token": "write",
    }
    assert jobs["chart"]["permissions"] == jobs["image"]["permissions"]
    assert jobs["notes"]["permissions"] == {"contents": "write"}
    # Nothing is published before the tests passed.
    assert jobs["image"]["needs"] == "test"
    assert jobs["chart"]["needs"] == "image"
    image_steps = {s.get("uses", "").split("@")[0]: s for s in jobs["image"]["steps"]}
    build = image_steps["docker/build-push-action"]["with"]
    assert build["platforms"] == "linux/amd64,linux/arm64"
    assert build["sbom"] is True
    assert build["provenance"] == "mode=max"
    signing = [
        s
        for s in jobs["image"]["steps"] + jobs["chart"]["steps"]
        if "cosign sign" in s.get("run", "")
    ]
    assert len(signing) == 2
