"""Fixtures of the reliability suite: figures collection and the app process factory.

Every test records the figures it measured with the `figures` fixture. When the environment
variable RELIABILITY_FIGURES names a file, the session writes them there as JSON; the report
command (`python tests/reliability/report.py`) turns that file into docs/reliability.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ._support.appproc import REPO_ROOT, AppProcess

_FIGURES: dict[str, object] = {}


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def figures() -> dict[str, object]:
    """A dict shared by the whole session; tests put their measured figures under a key."""
    return _FIGURES


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("RELIABILITY_FIGURES")
    if target and _FIGURES:
        path = Path(target)
        existing = json.loads(path.read_text()) if path.exists() else {}
        existing.update(_FIGURES)
        path.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")


@pytest.fixture
def start_app() -> Iterator[Callable[..., AppProcess]]:
    """Start `python -m app` with env overrides; every process started is stopped by PID."""
    started: list[AppProcess] = []

    def _start(**env: object) -> AppProcess:
        proc = AppProcess({k: str(v) for k, v in env.items()})
        started.append(proc)
        return proc.start()

    yield _start
    for proc in started:
        proc.cleanup()
