"""docs/configuration.md's table is what app/settings_doc.py generates from `Settings`."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from app.settings import ALLOWED
from app.settings_doc import BEGIN, DOC, END, main, render, table


def test_configuration_table_is_current() -> None:
    current = DOC.read_text()
    diff = "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            render(current).splitlines(keepends=True),
            "docs/configuration.md (committed)",
            "docs/configuration.md (from Settings)",
        )
    )
    assert not diff, f"docs/configuration.md's table is stale; python -m app.settings_doc:\n{diff}"


def test_table_has_one_row_per_variable_in_the_fields_order() -> None:
    rows = [line for line in table().splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == list(ALLOWED)


def test_check_fails_on_a_stale_table_and_writing_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "configuration.md"
    doc.write_text(f"# x\n\n{BEGIN}\n\n| old |\n\n{END}\n\nafter\n")
    assert main(["--check", "--doc", str(doc)]) == 1
    assert "-| old |" in capsys.readouterr().err
    assert main(["--doc", str(doc)]) == 0
    assert main(["--check", "--doc", str(doc)]) == 0
    text = doc.read_text()
    assert text.startswith("# x\n\n")
    assert text.endswith(f"{END}\n\nafter\n")
    assert "| `PORT` |" in text


def test_missing_markers_are_an_error(tmp_path: Path) -> None:
    doc = tmp_path / "configuration.md"
    doc.write_text("# no table here\n")
    with pytest.raises(ValueError, match="markers"):
        main(["--doc", str(doc)])
