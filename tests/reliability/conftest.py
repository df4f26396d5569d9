"""Fixtures of the reliability suite: figures collection (the app process factory,
`start_app`, is the one of tests/conftest.py).

Every test records the figures it measured with the `figures` fixture. When the environment
variable RELIABILITY_FIGURES names a file, the session writes them there as JSON; the report
command (`python tests/reliability/report.py`) turns that file into docs/reliability.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.appproc import REPO_ROOT

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
