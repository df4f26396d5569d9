"""The Makefile's targets are what `make help` promises: every phony target has a rule with a
help line, and every script a rule runs is in the repository and executable."""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = (REPO_ROOT / "Makefile").read_text()


def _phony() -> set[str]:
    found = re.search(r"^\.PHONY:(.*)$", MAKEFILE, re.MULTILINE)
    assert found, "no .PHONY line"
    return set(found.group(1).split())


def _rules() -> dict[str, str]:
    """target -> its help text (empty when it has none)."""
    return {
        m.group(1): m.group(2) or ""
        for m in re.finditer(r"^([a-z][a-z-]*):[^=\n]*?(?:## (.*))?$", MAKEFILE, re.MULTILINE)
    }


def test_every_phony_target_has_a_rule_and_every_rule_is_phony() -> None:
    rules = set(_rules())
    assert _phony() - rules == set(), "in .PHONY without a rule"
    assert rules - _phony() == set(), "rules missing from .PHONY"


def test_every_target_has_a_help_line() -> None:
    assert {target for target, text in _rules().items() if not text.strip()} == set()


def test_every_script_a_rule_runs_exists() -> None:
    scripts = re.findall(r"^\t\S*?\./(\S+)", MAKEFILE, re.MULTILINE)
    assert scripts
    for script in scripts:
        path = REPO_ROOT / script
        assert path.is_file(), script
        assert os.access(path, os.X_OK), f"{script} is not executable"
