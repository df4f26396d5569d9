"""Fixtures of the monitoring tests: the tools, the rendered chart and a real Prometheus.

`render_chart(*args)` runs `helm template` on charts/production-api (tests/support/helm.py)
and returns the parsed documents. `start_prometheus(config, rules)` runs the Prometheus server
of the machine (Debian's `prometheus` package) on a free 127.0.0.1 port with temporary
storage and stops it by PID at teardown. The service itself comes from the `start_app`
fixture of tests/conftest.py.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from promstack import PrometheusProcess

from tests.support import helm
from tests.support.appproc import free_port
from tests.support.tools import tool


@pytest.fixture(scope="session")
def promtool() -> str:
    return tool("promtool")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return tool("prometheus")


@pytest.fixture(scope="session")
def render_chart() -> Callable[..., list[dict[str, Any]]]:
    """`render_chart(*helm_args, release="web", namespace="shop")` -> the rendered documents
    (tests/support/helm.py's, with the monitoring.coreos.com/v1 API available)."""

    def render(*args: str, release: str = "web", namespace: str = "shop") -> list[dict[str, Any]]:
        return helm.render_chart(args=args, release=release, namespace=namespace)

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
