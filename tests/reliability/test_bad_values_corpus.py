"""A corpus of hostile or mistaken values files: each must fail `helm template`, naming the key.

The corpus is charts/production-api/tests/bad-values/ (tests/support/bad_values.py), which the
chart's helm-unittest suite is generated from too. Every file starts with `# expect: <key>`
(dotted path of the key at fault) and a comment saying what is wrong. The render must fail,
print no manifest, and its error must name that key (dotted, or as the JSON pointer the
schema validator uses).
"""

from __future__ import annotations

import pytest

from tests.support.bad_values import Case, cases

from ._support.chart import helm_template, values_sets

CORPUS = cases()
MIN_CORPUS = 25


def test_corpus_is_large_enough_and_documented():
    assert len(CORPUS) >= MIN_CORPUS
    for case in CORPUS:
        assert case.key, f"{case.path.name}: no '# expect: <key>'"
        assert case.description, f"{case.path.name}: say what is wrong in a comment"


@pytest.mark.parametrize("name", sorted(values_sets()))
def test_control_the_shipped_values_render(name):
    """Without this, a broken chart would make every corpus case 'pass'."""
    proc = helm_template(values_sets()[name])
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_bad_values_fail_render_naming_the_key(case: Case, figures):
    key = case.key
    proc = helm_template([case.path])
    message = proc.stderr.strip()
    figures.setdefault("bad_values", {})[case.name] = {
        "key": key,
        "rendered": proc.returncode == 0,
        "error": next(
            (ln.strip() for ln in message.splitlines() if key.split(".")[-1] in ln),
            message.splitlines()[0] if message else "",
        ),
    }
    assert proc.returncode != 0, f"{case.path.name} rendered; it must be rejected"
    assert "kind:" not in proc.stdout, "a manifest was printed despite the error"
    pointer = "/" + key.replace(".", "/")
    assert key in message or pointer in message, f"error does not name {key}:\n{message}"
