"""Property-based fuzzing of the app's own OpenAPI with schemathesis, every check enabled.

A real `python -m app` on 127.0.0.1 serves /openapi.json; schemathesis (CLI, seeded) runs all
its phases with `--checks all` and nothing excluded. Goal: at least 1,000 generated cases,
0 server errors, 0 responses outside the documented schema.
"""

from __future__ import annotations

import json
import subprocess

from tests.support.tools import tool

SEED = 20261126
MAX_EXAMPLES = 1000
MIN_CASES = 1000


def test_schemathesis_finds_no_failures_in_1000_cases(start_app, figures, tmp_path):
    app = start_app(LOG_LEVEL="warning", DOCS_ENABLED="true")
    report = tmp_path / "schemathesis.json"
    junit = tmp_path / "schemathesis-junit.xml"
    cmd = [
        tool("schemathesis"),
        "run",
        f"http://127.0.0.1:{app.port}/openapi.json",
        "--checks", "all",
        "--seed", str(SEED),
        "--max-examples", str(MAX_EXAMPLES),
        "--workers", "1",
        "--request-timeout", "10",
        "--wait-for-schema", "15",
        "--report", "junit,json",
        "--report-junit-path", str(junit),
        "--report-json-path", str(report),
    ]  # fmt: skip
    run = subprocess.run(
        cmd, cwd=tmp_path, capture_output=True, text=True, timeout=280, check=False
    )
    output = run.stdout[-6000:] + run.stderr[-2000:]
    assert report.exists(), output
    data = json.loads(report.read_text())
    cases = data["test_cases"]
    figures["fuzzing"] = {
        "tool": f"schemathesis {data['schemathesis_version']}",
        "seed": SEED,
        "checks": "all",
        "max_examples_per_operation": MAX_EXAMPLES,
        "operations_tested": data["operations"]["tested"],
        "cases_generated": cases["generated"],
        "cases_with_failures": cases["with_failures"],
        "unique_failures": cases["unique_failures"],
        "errored": cases["errored"],
        "phases": {name: p["status"] for name, p in data["phases"].items()},
        "seconds": round(data["running_time"], 1),
    }
    assert run.returncode == 0, output
    assert data["complete"], output
    assert cases["unique_failures"] == 0, output
    assert cases["errored"] == 0, output
    assert data["operations"]["errored"] == 0, output
    assert cases["generated"] >= MIN_CASES, output
    assert junit.exists()
