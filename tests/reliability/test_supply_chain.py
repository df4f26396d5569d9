"""Supply chain: hash-pinned locks, an image that installs with --require-hashes, no secrets
in the chart's value defaults, and Secrets referenced (never embedded) through `envFrom`.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from tests.support.appproc import REPO_ROOT

from ._support.chart import CHART_DIR, environment_overlays, pod_specs, render

LOCKS = ["requirements.lock", "requirements-dev.lock"]
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def lock_entries(path: Path) -> list[tuple[str, str]]:
    """(requirement line, its continuation block) for each requirement of a pip lock file."""
    entries: list[tuple[str, str]] = []
    for block in re.split(r"\n(?=\S)", path.read_text()):
        first = block.splitlines()[0]
        if first.startswith("#") or not first.strip():
            continue
        entries.append((first, block))
    return entries


@pytest.mark.parametrize("lock", LOCKS)
def test_lock_is_fully_pinned_with_hashes(lock, figures):
    path = REPO_ROOT / lock
    entries = lock_entries(path)
    assert entries, f"{lock} lists no requirements"
    unpinned = [first for first, _ in entries if not REQUIREMENT.match(first)]
    unhashed = [first for first, block in entries if "--hash=sha256:" not in block]
    options = [first for first, _ in entries if first.startswith("-")]
    figures.setdefault("supply_chain", {})[lock] = {
        "requirements": len(entries),
        "hashes": path.read_text().count("--hash=sha256:"),
        "unpinned": len(unpinned),
        "without_hash": len(unhashed),
    }
    assert not unpinned, unpinned
    assert not unhashed, unhashed
    assert not options, f"options such as indexes or editables in the lock: {options}"


def dockerfile_runs(text: str) -> list[str]:
    """RUN instructions of a Dockerfile, continuation lines joined, comments dropped."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [m.group(1) for m in re.finditer(r"^\s*RUN\s+(.*)$", joined, re.MULTILINE | re.I)]


def install_commands(run: str) -> list[list[str]]:
    commands = []
    for segment in re.split(r"&&|;|\|\|", run):
        try:
            words = shlex.split(segment)
        except ValueError:
            words = segment.split()
        for i in range(len(words) - 1):
            if words[i].endswith("pip") and words[i + 1] in {"install", "sync"}:
                commands.append(words[i:])
                break
    return commands


def test_image_installs_only_the_hash_pinned_lock(figures):
    dockerfile = REPO_ROOT / "Dockerfile"
    assert dockerfile.exists(), "no Dockerfile at the repository root"
    installs = [c for run in dockerfile_runs(dockerfile.read_text()) for c in install_commands(run)]
    assert installs, "the Dockerfile installs nothing with pip"
    for words in installs:
        assert "--require-hashes" in words, " ".join(words)
        assert "requirements.lock" in " ".join(words), " ".join(words)
        requirements = [w for w in words[2:] if not w.startswith("-") and w != "requirements.lock"]
        assert not requirements, f"packages installed outside the lock: {requirements}"
    figures.setdefault("supply_chain", {})["dockerfile"] = {
        "pip_installs": len(installs),
        "all_require_hashes": True,
    }


SUSPICIOUS_KEY = re.compile(
    r"pass(word|wd)?|secret|token|api[_-]?key|credential|private[_-]?key", re.I
)
SECRET_VALUE = [
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{36}"),  # GitHub tokens
    re.compile(r"xox[baprs]-[A-Za-z0-9-]{10,}"),  # Slack tokens
    re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\."),  # JWT
    re.compile(r"://[^/\s:@]+:[^/\s@]+@"),  # credentials in a URL
]
# Keys whose value names a Secret (a reference), never holds one.
REFERENCE_KEYS = {"existingSecret", "imagePullSecrets", "secretRef", "secretName"}


def walk(node: object, path: str = "") -> list[tuple[str, object]]:
    if isinstance(node, dict):
        return [kv for k, v in node.items() for kv in walk(v, f"{path}.{k}" if path else k)]
    if isinstance(node, list):
        return [kv for i, v in enumerate(node) for kv in walk(v, f"{path}[{i}]")]
    return [(path, node)]


@pytest.mark.parametrize(
    "values", [CHART_DIR / "values.yaml", *environment_overlays()], ids=lambda p: p.name
)
def test_no_secrets_in_value_defaults(values, figures):
    leaves = walk(yaml.safe_load(values.read_text()) or {})
    suspicious = [
        (path, value)
        for path, value in leaves
        if SUSPICIOUS_KEY.search(path.rsplit(".", 1)[-1])
        and path.rsplit(".", 1)[-1] not in REFERENCE_KEYS
        and value not in (None, "", [], {}, False, True)
    ]
    secret_like = [p.pattern for p in SECRET_VALUE if p.search(values.read_text())]
    figures.setdefault("supply_chain", {}).setdefault("values_scanned", {})[values.name] = {
        "leaves": len(leaves),
        "suspicious": len(suspicious) + len(secret_like),
    }
    assert not suspicious, suspicious
    assert not secret_like, secret_like


def _app_container(docs: list[dict]) -> dict:
    _, spec, _ = next(p for p in pod_specs(docs) if p[0].startswith("Deployment/"))
    return spec["containers"][0]


def test_existing_secret_is_referenced_through_envfrom(figures):
    docs = render(set_values=["existingSecret=app-credentials"])
    env_from = _app_container(docs).get("envFrom") or []
    assert {"secretRef": {"name": "app-credentials"}} in env_from, env_from
    assert not [d for d in docs if d.get("kind") == "Secret"], "the chart must not create Secrets"
    extra = render(
        set_values=[
            "envFrom[0].secretRef.name=db-credentials",
            "envFrom[1].configMapRef.name=feature-flags",
        ]
    )
    extra_from = _app_container(extra).get("envFrom") or []
    assert {"secretRef": {"name": "db-credentials"}} in extra_from, extra_from
    assert {"configMapRef": {"name": "feature-flags"}} in extra_from, extra_from
    defaults = _app_container(render())
    assert not any("secretRef" in e for e in defaults.get("envFrom") or [])
    figures.setdefault("supply_chain", {})["existing_secret"] = {
        "existingSecret_rendered_as": "envFrom[].secretRef",
        "envFrom_passthrough": True,
        "secrets_created_by_chart": 0,
    }
