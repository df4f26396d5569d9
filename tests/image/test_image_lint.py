"""Static checks of the image and pipeline files: hadolint, shellcheck, actionlint, .dockerignore.

Each linter also gets a deliberately broken input, so a linter that silently checks nothing
(wrong config path, missing integration) fails the test instead of passing it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.tools import tool

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = [
    "ci/podman.sh",
    "ci/base-image.sh",
    "ci/build-image.sh",
    "ci/smoke.sh",
    "ci/kind-smoke.sh",
]
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.y*ml"))


def run(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_hadolint_passes_with_the_project_config() -> None:
    proc = run(tool("hadolint"), "--no-color", "Dockerfile")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_config_is_strict(tmp_path: Path) -> None:
    """The config fails style-level findings and requires the OCI labels."""
    bad = (REPO_ROOT / "Dockerfile").read_text()
    bad = bad.replace("org.opencontainers.image.revision=", "revision=")
    bad += "\nRUN cd /tmp && ls\n"  # DL3003: use WORKDIR
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(bad)
    proc = run(
        tool("hadolint"), "--no-color", "--config", str(REPO_ROOT / ".hadolint.yaml"),
        str(dockerfile),
    )  # fmt: skip
    assert proc.returncode != 0
    assert "DL3049" in proc.stdout  # missing label
    assert "DL3003" in proc.stdout


def test_hadolint_config_justifies_every_ignored_rule() -> None:
    text = (REPO_ROOT / ".hadolint.yaml").read_text()
    config = yaml.safe_load(text)
    assert config["failure-threshold"] in ("style", "info")
    lines = text.splitlines()
    for rule in config.get("ignored", []):
        index = lines.index(f"  - {rule}")
        reason = lines[index - 1].strip()
        assert reason.startswith("#"), f"{rule} is ignored without a reason"
        assert len(reason) > 20, f"{rule} is ignored without a reason"


@pytest.mark.parametrize("script", SCRIPTS)
def test_shellcheck_clean(script: str) -> None:
    proc = run(tool("shellcheck"), "-x", script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (REPO_ROOT / script).stat().st_mode & 0o111, f"{script} is not executable"


def test_workflows_exist() -> None:
    names = {p.name for p in WORKFLOWS}
    assert "ci.yml" in names


def test_actionlint_clean() -> None:
    proc = run(tool("actionlint"), "-no-color", *map(str, WORKFLOWS))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_errors(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    proc = run(tool("actionlint"), "-no-color", str(bad), cwd=tmp_path)
    assert proc.returncode != 0


def test_workflow_jobs_and_pinned_actions() -> None:
    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text())
    jobs = workflow["jobs"]
    runs = {name: [s.get("run", "") for s in job["steps"]] for name, job in jobs.items()}
    assert "make test" in runs["test"]
    assert "ci/kind-smoke.sh" in runs["kind-smoke"]
    for job in jobs.values():
        for step in job["steps"]:
            uses = step.get("uses")
            if uses and not uses.startswith("./"):
                ref = uses.split("@", 1)[1]
                assert len(ref) == 40, f"{uses} is not pinned to a commit SHA"
                assert all(c in "0123456789abcdef" for c in ref), uses


def test_dockerignore_keeps_the_context_small() -> None:
    lines = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # Deny everything, then allow only what the Dockerfile copies.
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"app", "requirements.lock"}
    for pattern in (".git", "tests", "charts", "**/__pycache__", ".venv", "bench"):
        assert pattern in lines, pattern
    copied = {
        line.split()[1].rstrip("/")
        for line in (REPO_ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ") and "--from" not in line
    }
    assert copied == allowed


def test_kind_config_is_a_kind_cluster() -> None:
    config = yaml.safe_load((REPO_ROOT / "ci" / "kind-config.yaml").read_text())
    assert config["kind"] == "Cluster"
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert [n["role"] for n in config["nodes"]].count("control-plane") == 1
