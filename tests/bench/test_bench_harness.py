"""Smoke test: the benchmark harness runs end to end against all ten servers.

It runs `bench/bench.py --quick` (one 1-second wrk run per server on the parametrised route,
one start-up per server, a 300-path flood; the two tracing variants and the two zero-code
peers export to a real collector, the authenticated variant sends a real Dex token) into a
temporary directory and checks that every phase produced numbers and the report was written.
It asserts nothing about speed: benchmarks are not tests. Needs wrk, otelcol-test and dex-test
on PATH (installed by ci/install-tools.sh / `make bench`).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tools import tool

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVERS = [
    "ceiling",
    "baseline",
    "production-api",
    "tutorial",
    "traced-1.0",
    "traced-0.1",
    "zero-code-1.0",
    "zero-code-0.1",
    "authenticated",
    "rate-limited",
]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    tool("wrk")
    tmp = tmp_path_factory.mktemp("bench")
    report = tmp / "RESULTS.md"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "bench" / "bench.py"),
            "--quick",
            "--endpoints",
            "/items/{item_id}",
            "--output",
            str(report),
            "--out-dir",
            str(tmp / "out"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return report.read_text(), json.loads((tmp / "out" / "results.json").read_text())


def test_every_server_served_the_load_without_errors(quick_run):
    _, raw = quick_run
    for name in SERVERS:
        runs = raw["raw_throughput"][name]["/items/{item_id}"]
        assert len(runs) == 1
        assert runs[0]["requests"] > 0, name
        assert runs[0]["non2xx"] == 0, name
        assert runs[0]["socket_errors"] == 0, name


def test_startup_rss_and_metrics_phases_produced_numbers(quick_run):
    _, raw = quick_run
    for name in SERVERS:
        assert len(raw["startup"][name]) == 1, name
        assert raw["rss_after_load"][name] > 0, name
    card = raw["cardinality"]
    assert set(card) == {"production-api", "tutorial"}
    assert card["production-api"]["statuses"] == {"404": 300}
    # The point of the comparison: raw-path labels grow with the paths, templates do not
    # (the first unknown path may add the one `unmatched` label set, hence the checkpoint).
    prod, tutorial = card["production-api"], card["tutorial"]
    assert prod["after"]["series"] == prod["checkpoint"]["series"]
    assert tutorial["after"]["series"] > tutorial["checkpoint"]["series"] + 200


def test_tracing_variants_exported_to_the_collector(quick_run):
    report, raw = quick_run
    tracing = raw["tracing"]
    assert tracing["traced-1.0"]["exported"] > 0
    assert tracing["traced-0.1"]["exported"] > 0
    # Ratio 0.1 samples about a tenth of what 1.0 does for the same load (loose: 1 s runs).
    per_request = {
        name: tracing[name]["exported"]
        / raw["raw_throughput"][name]["/items/{item_id}"][0]["requests"]
        for name in ("traced-1.0", "traced-0.1")
    }
    assert per_request["traced-0.1"] < per_request["traced-1.0"] / 3
    assert tracing["collector_spans"] >= tracing["traced-1.0"]["exported"]
    assert "## Tracing" in report
    assert "| `/items/{item_id}` | traced-0.1 |" in report
    assert "| `/items/{item_id}` | traced-1.0 | zero-code-1.0 |" in report


def test_the_authenticated_variant_was_served_and_its_cost_measured(quick_run):
    report, raw = quick_run
    cost = raw["verify_cost"]
    assert cost["verify_us"] > 0
    assert cost["cached_us"] > 0
    assert "## Authentication and rate limiting" in report
    assert "| `/items/{item_id}` | authenticated |" in report


def test_report_has_every_section_and_server(quick_run):
    report, _ = quick_run
    for heading in (
        "## Targets",
        "## Throughput and latency",
        "## Start-up, memory, /metrics",
        "## Image",
        "## Servers and exact commands",
        "## Machine and software",
    ):
        assert heading in report
    for name in SERVERS:
        assert f"| `/items/{{item_id}}` | {name} |" in report
    assert "| fastapi |" in report
    assert "| uvicorn |" in report


def test_report_commands_run_from_any_checkout(quick_run):
    """The servers' commands name the interpreter as `$VENV/bin/python`, not this machine's
    path; the interpreter's version is printed on its own."""
    report, _ = quick_run
    assert sys.executable not in report
    section = report.split("## Servers and exact commands", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip().strip("`") for line in section.splitlines() if line.startswith("  `")]
    assert len(commands) == len(SERVERS)
    python = Path(sys.executable).name
    for command in commands:
        assert f" $VENV/bin/{python} -m " in command, command
        assert str(Path.home()) + "/" not in command, command
        assert str(REPO_ROOT) not in command, command
    version = ".".join(str(n) for n in sys.version_info[:3])
    assert f"- Python {version} (CPython), run as `$VENV/bin/{python}`; `$VENV` is the " in report
