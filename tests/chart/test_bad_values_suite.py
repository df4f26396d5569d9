"""The helm-unittest suite bad-values_test.yaml is generated from the bad-values corpus
(charts/production-api/tests/bad-values/, tests/support/bad_values.py): one corpus feeds both
helm-unittest and the reliability report's `helm template` check."""

from __future__ import annotations

import difflib

import yaml

from tests.support.bad_values import CORPUS_DIR, SUITE, cases, suite_text


def test_the_suite_is_generated_from_the_corpus() -> None:
    expected, current = suite_text(), SUITE.read_text()
    diff = "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True), expected.splitlines(keepends=True), "now", "fresh"
        )
    )
    assert not diff, f"{SUITE.name} is stale; run: python -m tests.support.bad_values\n{diff}"


def test_every_case_is_a_values_file_naming_a_template_that_exists() -> None:
    found = cases()
    assert len(found) == len(list(CORPUS_DIR.iterdir()))
    for case in found:
        assert isinstance(yaml.safe_load(case.path.read_text()), dict), case.path.name
        assert (CORPUS_DIR.parents[1] / case.template).is_file(), case.path.name
