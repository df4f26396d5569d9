"""Runs the project's linters: ruff (lint and format), shellcheck, actionlint and hadolint.

Every linter must be on PATH (ci/install-tools.sh installs them); a missing linter or a
missing input (no workflow, no Dockerfile) fails the test instead of skipping it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.tools import tool

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 120


def repo_files(*patterns: str) -> list[str]:
    """Files of the repository (tracked or new, not ignored) matching git pathspecs."""
    if (REPO_ROOT / ".git").exists():
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *patterns],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        found = {line for line in out.splitlines() if line}
    else:
        found = {
            str(path.relative_to(REPO_ROOT))
            for pattern in patterns
            for path in REPO_ROOT.glob(pattern.replace("*", "**/*", 1))
        }
    return sorted(name for name in found if (REPO_ROOT / name).is_file())


def run_linter(*args: str) -> None:
    """Runs a linter from the repository root; fails with its full output unless it exits 0."""
    result = subprocess.run(
        args,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"$ {' '.join(args)}\nexit status {result.returncode}\n{result.stdout}{result.stderr}",
            pytrace=False,
        )


SHELL_SCRIPTS = repo_files("ci/*.sh", "ci/cluster/*.sh", "ci/*.env", "bench/*.sh", ".ci/run")
WORKFLOWS = repo_files(".github/workflows/*.yml", ".github/workflows/*.yaml")
DOCKERFILES = repo_files("Dockerfile", "*/Dockerfile", "*.Dockerfile", "Containerfile")


def test_ruff_check() -> None:
    ruff = tool("ruff")
    run_linter(ruff, "check", "--no-cache", "--output-format=concise", ".")


def test_ruff_format() -> None:
    ruff = tool("ruff")
    run_linter(ruff, "format", "--no-cache", "--check", "--diff", ".")


def test_shell_scripts_found() -> None:
    assert ".ci/run" in SHELL_SCRIPTS
    assert "ci/install-tools.sh" in SHELL_SCRIPTS
    # The smoke test's library and steps, sourced by ci/smoke.sh, are checked on their own too.
    assert "ci/smoke/lib.sh" in SHELL_SCRIPTS
    assert "ci/smoke/steps/01-cluster.sh" in SHELL_SCRIPTS
    assert "ci/kind/base-image.sh" in SHELL_SCRIPTS


@pytest.mark.parametrize("script", SHELL_SCRIPTS)
def test_shellcheck(script: str) -> None:
    shellcheck = tool("shellcheck")
    # -x follows `source` lines (paths relative to the repository root, where this runs).
    run_linter(shellcheck, "--external-sources", "--format=gcc", script)


def test_actionlint() -> None:
    actionlint = tool("actionlint")
    assert WORKFLOWS, "no workflow under .github/workflows/"
    run_linter(actionlint, "-no-color", "-oneline", *WORKFLOWS)


def test_dockerfile_found() -> None:
    assert "Dockerfile" in DOCKERFILES


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_hadolint(dockerfile: str) -> None:
    hadolint = tool("hadolint")
    run_linter(hadolint, "--no-color", dockerfile)
