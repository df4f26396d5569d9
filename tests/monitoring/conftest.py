"""Fixtures of the monitoring tests: the tools, the rendered chart and a real Prometheus.

`render_chart(*args)` runs `helm template` on charts/production-api and returns the parsed
documents. `start_prometheus(config, rules)` runs the Prometheus server of the machine
(Debian's `prometheus` package) on a free 127.0.0.1 port with temporary storage and stops it
by PID at teardown. The service itself comes from the `start_app` fixture of tests/conftest.py.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from promstack import CHART, PrometheusProcess

from tests.support.appproc import free_port


def require_tool(name: str) -> str:
    """Absolute path of `name` on PATH; fails the test when it is missing (CI installs it)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH; ci/install-tools.sh installs it")
    return path


@pytest.fixture(scope="session")
def helm() -> str:
    return require_tool("helm")


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_tool("promtool")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return require_tool("prometheus")


@pytest.fixture(scope="session")
def render_chart(helm: str) -> Callable[..., list[dict[str, Any]]]:
    """`render_chart(*helm_args, release="web", namespace="shop")` -> the rendered documents.

    The monitoring.coreos.com/v1 API is declared available, as it is in a cluster with the
    Prometheus Operator CRDs.
    """

    def render(*args: str, release: str = "web", namespace: str = "shop") -> list[dict[str, Any]]:
        cmd = [
            helm,
            "template",
            release,
            str(CHART),
            "--namespace",
            namespace,
            "--api-versions",
            "monitoring.coreos.com/v1",
            *args,
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stderr}"
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    return render


@pytest.fixture
def start_prometheus(
    prometheus_bin: str, tmp_path: Path
) -> Iterator[Callable[..., PrometheusProcess]]:
    """Factory `start_prometheus(config: dict, rule_groups: list | None) -> PrometheusProcess`.

    Writes prometheus.yml (and rules.yml, listed in rule_files) to a temporary directory,
    starts the server on a free loopback port with temporary TSDB storage, waits for /-/ready
    and stops it by PID at teardown (SIGTERM, then SIGKILL).
    """
    started: list[PrometheusProcess] = []

    def start(
        config: dict[str, Any], rule_groups: list[dict[str, Any]] | None = None
    ) -> PrometheusProcess:
        workdir = tmp_path / f"prometheus-{len(started)}"
        (workdir / "data").mkdir(parents=True)
        config = dict(config)
        if rule_groups is not None:
            rules_file = workdir / "rules.yml"
            rules_file.write_text(yaml.safe_dump({"groups": rule_groups}, sort_keys=False))
            config["rule_files"] = [str(rules_file)]
        config_file = workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        port = free_port()
        log = workdir / "prometheus.log"
        with log.open("wb") as log_stream:
            popen = subprocess.Popen(
                [
                    prometheus_bin,
                    f"--config.file={config_file}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=info",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log_stream,
                stderr=subprocess.STDOUT,
            )
        proc = PrometheusProcess(popen, port, log)
        started.append(proc)
        proc.wait_ready()
        return proc

    yield start
    for proc in started:
        proc.stop()
