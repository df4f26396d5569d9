"""A corpus of hostile or mistaken values files: each must fail `helm template`, naming the key.

Every file in tests/reliability/bad-values/ starts with `# expect: <key>` (dotted path of the
key at fault) and a comment saying what is wrong. The render must fail, print no manifest,
and its error must name that key (dotted, or as the JSON pointer the schema validator uses).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._support.chart import helm_template, values_sets

CORPUS_DIR = Path(__file__).parent / "bad-values"
CORPUS = sorted(CORPUS_DIR.glob("*.yaml"))
MIN_CORPUS = 25


def expected_key(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("# expect:"):
            return line.removeprefix("# expect:").strip()
    raise AssertionError(f"{path.name} has no '# expect: <key>' header")


def test_corpus_is_large_enough_and_documented():
    assert len(CORPUS) >= MIN_CORPUS
    for path in CORPUS:
        assert expected_key(path)
        comments = [ln for ln in path.read_text().splitlines() if ln.startswith("#")]
        assert len(comments) >= 2, f"{path.name}: say what is wrong in a comment"


@pytest.mark.parametrize("name", sorted(values_sets()))
def test_control_the_shipped_values_render(name):
    """Without this, a broken chart would make every corpus case 'pass'."""
    proc = helm_template(values_sets()[name])
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_bad_values_fail_render_naming_the_key(path, figures):
    key = expected_key(path)
    proc = helm_template([path])
    message = proc.stderr.strip()
    figures.setdefault("bad_values", {})[path.stem] = {
        "key": key,
        "rendered": proc.returncode == 0,
        "error": next(
            (ln.strip() for ln in message.splitlines() if key.split(".")[-1] in ln),
            message.splitlines()[0] if message else "",
        ),
    }
    assert proc.returncode != 0, f"{path.name} rendered; it must be rejected"
    assert "kind:" not in proc.stdout, "a manifest was printed despite the error"
    pointer = "/" + key.replace(".", "/")
    assert key in message or pointer in message, f"error does not name {key}:\n{message}"
