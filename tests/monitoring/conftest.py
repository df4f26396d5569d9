"""Fixtures of the monitoring tests: the tools, the rendered chart and a real Prometheus.

`render_chart(*args)` runs `helm template` on charts/production-api and returns the parsed
documents. `start_prometheus(config, rules)` runs the Prometheus server of the machine
(Debian's `prometheus` package) on a free 127.0.0.1 port with temporary storage and stops it
by PID at teardown. The service itself comes from the `start_app` fixture of tests/conftest.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "production-api"
HERE = Path(__file__).resolve().parent

PROMETHEUS_READY_TIMEOUT = 30.0
PROMETHEUS_STOP_TIMEOUT = 15.0


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

    def render(
        *args: str, release: str = "web", namespace: str = "shop"
    ) -> list[dict[str, Any]]:
        cmd = [
            helm, "template", release, str(CHART), "--namespace", namespace,
            "--api-versions", "monitoring.coreos.com/v1", *args,
        ]
        result = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stderr}"
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    return render


def find_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The single rendered object of `kind`."""
    found = [doc for doc in docs if doc.get("kind") == kind]
    assert len(found) == 1, f"expected one {kind}, rendered {len(found)}"
    return found[0]


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrometheusProcess:
    """A running Prometheus server and a small client of its HTTP API."""

    def __init__(self, popen: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.popen = popen
        self.port = port
        self.log = log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, path: str, **params: str) -> Any:
        """GET an API path; returns the decoded JSON body (also for 4xx/5xx answers)."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        request = urllib.request.Request(f"{self.url}{path}{query}")  # noqa: S310 (loopback)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())

    def query(self, expr: str) -> dict[str, Any]:
        """Instant query through /api/v1/query; the whole API answer (status, data, error)."""
        return self.get("/api/v1/query", query=expr)

    def wait_ready(self, timeout: float = PROMETHEUS_READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(
                    f"prometheus exited with {self.popen.returncode}:\n{self.log_text()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"prometheus not ready within {timeout}s:\n{self.log_text()}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=PROMETHEUS_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=PROMETHEUS_STOP_TIMEOUT)


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
        port = free_loopback_port()
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
