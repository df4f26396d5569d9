"""The bad-values corpus: values files that must fail to render, each naming the key at fault.

One file per case in charts/production-api/tests/bad-values/, starting with comments:

    # expect: <key>        the key at fault, dotted (or a key name alone, for a typo)
    # error: <regex>       optional: the helm-unittest errorPattern, when not <key> itself
    # template: <path>     optional: the template whose render fails (templates/deployment.yaml)
    # <what is wrong, in a sentence or more>

The corpus feeds two checks: the helm-unittest suite charts/production-api/tests/
bad-values_test.yaml, which is generated from it (`python -m tests.support.bad_values`;
tests/chart/test_bad_values_suite.py fails when it is stale), and the pytest check of
tests/reliability/test_bad_values_corpus.py, which runs `helm template` on every file and
feeds the reliability report.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import yaml

from tests.support.helm import CHART_DIR

CORPUS_DIR = CHART_DIR / "tests" / "bad-values"
SUITE = CHART_DIR / "tests" / "bad-values_test.yaml"
DEFAULT_TEMPLATE = "templates/deployment.yaml"
HEADER = """\
# Generated from bad-values/*.yaml by `python -m tests.support.bad_values`; do not edit.
# Values that must fail: schema errors (values.schema.json) and the chart's own checks. Each
# errorPattern names the offending key, loosely (schema messages differ between Helm
# versions); tests/reliability/test_bad_values_corpus.py checks the same files with helm.
"""


@dataclasses.dataclass(frozen=True)
class Case:
    path: Path
    key: str
    error_pattern: str
    template: str
    description: str

    @property
    def name(self) -> str:
        return self.path.stem


def load(path: Path) -> Case:
    fields: dict[str, str] = {}
    description: list[str] = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        text = line.removeprefix("#").strip()
        field, _, value = text.partition(":")
        if field in {"expect", "error", "template"} and value and not description:
            fields[field] = value.strip()
        else:
            description.append(text)
    if not fields.get("expect"):
        raise ValueError(f"{path.name} has no '# expect: <key>' header")
    if not description:
        raise ValueError(f"{path.name}: say what is wrong in a comment")
    return Case(
        path=path,
        key=fields["expect"],
        error_pattern=fields.get("error", fields["expect"]),
        template=fields.get("template", DEFAULT_TEMPLATE),
        description=" ".join(description),
    )


def cases() -> list[Case]:
    return [load(path) for path in sorted(CORPUS_DIR.glob("*.yaml"))]


def suite_text() -> str:
    """The helm-unittest suite of the corpus, with the defaults as the control case."""
    tests: list[dict] = [
        {
            "it": "accepts the defaults",
            "template": DEFAULT_TEMPLATE,
            "asserts": [{"notFailedTemplate": {}}],
        }
    ]
    for case in cases():
        tests.append(
            {
                "it": f"{case.name}: {case.description}",
                "template": case.template,
                "values": [str(case.path.relative_to(SUITE.parent))],
                "asserts": [{"failedTemplate": {"errorPattern": case.error_pattern}}],
            }
        )
    suite = {
        "suite": "bad values fail naming the key",
        "templates": sorted({DEFAULT_TEMPLATE, *(test["template"] for test in tests)}),
        "release": {"name": "prod"},
        "tests": tests,
    }
    return HEADER + yaml.safe_dump(suite, sort_keys=False, width=100, allow_unicode=True)


def main() -> int:
    SUITE.write_text(suite_text())
    print(f"wrote {SUITE.relative_to(CHART_DIR.parents[1])}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
