"""Release rules: one version (app, chart version, chart appVersion), a version bump for every
released change (ci/version.sh), and the packaged chart (ci/package-chart.sh) a registry and
Artifact Hub show.

The bump rule is proven on a throw-away git repository holding the version files, where a
release tag, a change without a bump and the bump itself can be made; the real repository is
checked as it stands.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
VERSION_SH = REPO_ROOT / "ci" / "version.sh"
PACKAGE_SH = REPO_ROOT / "ci" / "package-chart.sh"
CHART_DIR = REPO_ROOT / "charts" / "production-api"


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def app_version() -> str:
    text = (REPO_ROOT / "app" / "__init__.py").read_text()
    match = re.search(r'^__version__ = "(.+)"$', text, re.M)
    assert match
    return match.group(1)


def test_the_repository_passes_its_version_rules() -> None:
    proc = run([str(VERSION_SH), "check"], REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    assert chart["version"] == chart["appVersion"] == app_version()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with the version files of this one, committed."""
    for rel in ("app/__init__.py", "charts/production-api/Chart.yaml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / rel, tmp_path / rel)
    (tmp_path / "charts/production-api/templates").mkdir()
    (tmp_path / "charts/production-api/templates/a.yaml").write_text("a: 1\n")
    (tmp_path / "README.md").write_text("docs\n")
    git(tmp_path, "init", "-q")
    commit(tmp_path, "first")
    return tmp_path


def git(repo: Path, *args: str) -> str:
    proc = run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], repo)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def set_version(
    repo: Path, app: str, chart: str | None = None, app_version: str | None = None
) -> None:
    init = repo / "app/__init__.py"
    init.write_text(re.sub(r'__version__ = ".*"', f'__version__ = "{app}"', init.read_text()))
    chart_file = repo / "charts/production-api/Chart.yaml"
    text = re.sub(r"(?m)^version: .*$", f"version: {chart or app}", chart_file.read_text())
    text = re.sub(r"(?m)^appVersion: .*$", f'appVersion: "{app_version or app}"', text)
    chart_file.write_text(text)


def check(repo: Path) -> subprocess.CompletedProcess[str]:
    return run([str(VERSION_SH), "check"], repo)


def test_versions_must_agree(repo: Path) -> None:
    set_version(repo, "1.0.0", chart="1.0.1")
    proc = check(repo)
    assert proc.returncode == 1
    assert "Chart.yaml version 1.0.1" in proc.stderr
    set_version(repo, "1.0.0", app_version="0.9.0")
    assert "appVersion 0.9.0" in check(repo).stderr
    set_version(repo, "1.0.0")
    assert check(repo).returncode == 0


def test_a_released_change_needs_a_version_bump(repo: Path) -> None:
    set_version(repo, "1.0.0")
    commit(repo, "1.0.0")
    git(repo, "tag", "v1.0.0")
    assert "last release v1.0.0" in check(repo).stdout
    # Documentation may change without a release.
    (repo / "README.md").write_text("more docs\n")
    commit(repo, "docs")
    assert check(repo).returncode == 0
    # A chart change may not.
    (repo / "charts/production-api/templates/a.yaml").write_text("a: 2\n")
    commit(repo, "chart change")
    proc = check(repo)
    assert proc.returncode == 1
    assert "charts/production-api/templates/a.yaml changed since release v1.0.0" in proc.stderr
    set_version(repo, "1.0.1")
    assert check(repo).returncode == 0
    # Going below the last release is refused.
    set_version(repo, "0.9.0")
    assert "below the last release v1.0.0" in check(repo).stderr


def test_previous_release_from_tags_or_history(repo: Path) -> None:
    set_version(repo, "1.0.0")
    commit(repo, "1.0.0")
    first = git(repo, "rev-parse", "HEAD")
    (repo / "README.md").write_text("1.0.0 docs\n")
    commit(repo, "docs on 1.0.0")
    last_of_first = git(repo, "rev-parse", "HEAD")
    set_version(repo, "1.1.0")
    # Not committed yet: the last commit is the previous version.
    assert run([str(VERSION_SH), "previous"], repo).stdout.split() == ["1.0.0", last_of_first]
    commit(repo, "1.1.0")
    # No release tags: the last commit before the bump.
    assert run([str(VERSION_SH), "previous"], repo).stdout.split() == ["1.0.0", last_of_first]
    # A release tag wins.
    git(repo, "tag", "v1.0.0", first)
    assert run([str(VERSION_SH), "previous"], repo).stdout.split() == ["1.0.0", first]


def test_packaged_chart_carries_the_release_metadata(tmp_path: Path) -> None:
    digest = "sha256:" + "ab" * 32
    proc = run(
        [str(PACKAGE_SH), str(tmp_path), "--image", "registry.test/team/api", "--digest", digest],
        REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    package = Path(proc.stdout.strip())
    version = app_version()
    assert package.name == f"production-api-{version}.tgz"
    with tarfile.open(package) as tar:
        chart = yaml.safe_load(tar.extractfile("production-api/Chart.yaml").read())
        values = yaml.safe_load(tar.extractfile("production-api/values.yaml").read())
    project = re.search(
        r"^PROJECT_URL=(\S+)", (REPO_ROOT / "ci/project.env").read_text(), re.M
    ).group(1)
    assert chart["version"] == chart["appVersion"] == version
    assert chart["home"] == project
    assert chart["sources"] == [project]
    assert all(m["url"] == project for m in chart["maintainers"])
    annotations = chart["annotations"]
    assert annotations["artifacthub.io/license"] == "Apache-2.0"
    assert yaml.safe_load(annotations["artifacthub.io/links"])[0] == {
        "name": "source",
        "url": project,
    }
    assert yaml.safe_load(annotations["artifacthub.io/images"]) == [
        {"name": "production-api", "image": f"registry.test/team/api:{version}@{digest}"}
    ]
    changes = yaml.safe_load(annotations["artifacthub.io/changes"])
    assert changes
    assert all(
        c["kind"] in {"added", "changed", "deprecated", "removed", "fixed", "security"}
        for c in changes
    )
    # The release deploys its own image by digest without any --set.
    assert values["image"]["repository"] == "registry.test/team/api"
    assert values["image"]["digest"] == digest


def test_package_refuses_a_bad_digest(tmp_path: Path) -> None:
    proc = run(
        [str(PACKAGE_SH), str(tmp_path), "--image", "r/x", "--digest", "sha256:xyz"], REPO_ROOT
    )
    assert proc.returncode == 2
    assert "bad digest" in proc.stderr
