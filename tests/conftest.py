"""Shared fixtures: free loopback ports, the real service, and a real trace collector.

`start_app(**env)` starts `python -m app` on 127.0.0.1 on a free port from a clean
environment and waits until `/health` answers (see tests/support/appproc.py); every process
a test started is stopped by its PID at teardown (SIGTERM, then SIGKILL if it does not exit
in time).
Over 250 lines because every fixture that starts a real process lives here, once.

Example::

    def test_serves(start_app):
        proc = start_app(LOG_LEVEL="debug")            # waits for readiness
        status, body = proc.get("/health")
        assert status == 200
        assert proc.stop() == 0                        # SIGTERM; exit status
        assert any(line["logger"] == "app.access" for line in proc.json_lines())

`collector` is a real OpenTelemetry Collector (`otelcol-test`, built from ci/otelcol/ by
ci/install-tools.sh, with the project's one configuration, ci/otelcol/config.yaml) receiving
OTLP/HTTP on 127.0.0.1 on a free port and writing what it receives to a JSON-lines file,
which `Collector.spans()` reads back. `dex` and `redis` are a real OpenID Connect issuer and
a real Redis on free loopback ports (tests/support/issuer.py).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import appproc
from tests.support.appproc import (
    DEFAULT_READY_TIMEOUT,
    DEFAULT_STOP_TIMEOUT,
    REPO_ROOT,
    AppProcess,
)
from tests.support.issuer import Dex, Redis
from tests.support.tools import tool

OTELCOL_CONFIG = REPO_ROOT / "ci" / "otelcol" / "config.yaml"

# What tests need beyond the project's Python venv, as the markers pyproject.toml registers:
# `cluster` (the project's test cluster: root, Linux), `image` (builds and runs the container
# image with podman), `toolchain` (binaries ci/install-tools.sh installs: helm, promtool,
# otelcol-test, shellcheck, checkov...). By path prefix, and by the fixtures a test uses.
NEEDS_BY_PATH = {
    "tests/cluster/": ("cluster", "image", "toolchain"),
    "tests/image/test_image.py": ("image", "toolchain"),
    "tests/image/test_image_lint.py": ("toolchain",),
    "tests/chart/": ("toolchain",),
    "tests/monitoring/": ("toolchain",),
    "tests/lint/": ("toolchain",),
    "tests/logs/": ("toolchain",),
    "tests/bench/": ("toolchain",),
    "tests/reliability/test_bad_values_corpus.py": ("toolchain",),
    "tests/reliability/test_checkov_policy.py": ("toolchain",),
    "tests/reliability/test_pod_security_restricted.py": ("toolchain",),
}
NEEDS_BY_FIXTURE = {"collector": ("toolchain",), "dex": ("toolchain",), "redis": ("toolchain",)}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path.resolve().relative_to(REPO_ROOT).as_posix()
        needs = {
            mark
            for prefix, marks in NEEDS_BY_PATH.items()
            if path.startswith(prefix)
            for mark in marks
        }
        for fixture, marks in NEEDS_BY_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                needs.update(marks)
        for mark in sorted(needs):
            item.add_marker(mark)


@pytest.fixture
def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    return appproc.free_port()


@pytest.fixture
def start_app() -> Iterator[Callable[..., AppProcess]]:
    """Factory `start_app(port=None, *, wait=True, ready_timeout=30, **env) -> AppProcess`.

    The drain after SIGTERM (SHUTDOWN_DRAIN_SECONDS, 5 s by default: the time Kubernetes
    takes to drop a stopping pod from the endpoints) is 0 unless the test sets it: nothing on
    loopback needs it, and each stop would wait it out. Processes still running at teardown
    are stopped by PID.
    """
    started: list[AppProcess] = []

    def start(
        port: int | None = None,
        *,
        wait: bool = True,
        ready_timeout: float = DEFAULT_READY_TIMEOUT,
        **env: object,
    ) -> AppProcess:
        env.setdefault("SHUTDOWN_DRAIN_SECONDS", 0)
        proc = appproc.launch_app(port, wait=wait, ready_timeout=ready_timeout, **env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.returncode is None:
            proc.stop(signal.SIGTERM, timeout=DEFAULT_STOP_TIMEOUT)


class Collector:
    """A running `otelcol-test` with the project's collector configuration (OTELCOL_CONFIG):
    the OTLP receiver (HTTP) on `host`:`port` (127.0.0.1 and a free port unless given), every
    trace it receives written by the file exporter to `spans_file` (OTLP JSON, one request
    per line)."""

    def __init__(self, workdir: Path, port: int | None = None, host: str = "127.0.0.1") -> None:
        binary = tool("otelcol-test")
        self.host = host
        self.port = appproc.free_port() if port is None else port
        self.spans_file = workdir / f"spans-{self.port}.jsonl"
        self.log_file = workdir / f"otelcol-{self.port}.log"
        env = {
            **os.environ,
            "OTELCOL_ENDPOINT": f"{host}:{self.port}",
            "OTELCOL_SPANS_FILE": str(self.spans_file),
            "OTELCOL_LOG_LEVEL": "warn",
        }
        env.pop("OTELCOL_EXPORTER", None)  # the file exporter, which spans() reads
        with self.log_file.open("wb") as log:
            self.popen = subprocess.Popen(
                [binary, f"--config={OTELCOL_CONFIG}"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._paused = False
        self._wait_listening()

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _wait_listening(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"otelcol-test exited: {self.log_file.read_text()}")
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"otelcol-test not listening on {self.port} within {timeout}s")

    def spans(self) -> list[dict[str, Any]]:
        """Every span received so far, its attributes as a dict, with its resource's
        attributes under "resource" and its scope under "scope"."""
        if not self.spans_file.exists():
            return []
        spans = []
        for line in self.spans_file.read_text().splitlines():
            if not line.strip():
                continue
            for resource_spans in json.loads(line).get("resourceSpans", []):
                resource = _attributes(resource_spans.get("resource", {}).get("attributes", []))
                for scope_spans in resource_spans.get("scopeSpans", []):
                    for span in scope_spans.get("spans", []):
                        spans.append(
                            {
                                **span,
                                "attributes": _attributes(span.get("attributes", [])),
                                "resource": resource,
                                "scope": scope_spans.get("scope", {}),
                            }
                        )
        return spans

    def wait_for_spans(
        self, predicate: Callable[[dict[str, Any]], bool], count: int = 1, timeout: float = 20.0
    ) -> list[dict[str, Any]]:
        """The received spans matching `predicate`, once there are at least `count` of them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [span for span in self.spans() if predicate(span)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def pause(self) -> None:
        """SIGSTOP: the kernel still accepts connections, but nothing is ever answered."""
        self.popen.send_signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        if self._paused:
            self.popen.send_signal(signal.SIGCONT)
            self._paused = False

    def stop(self) -> None:
        self.resume()
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=15)


def _value(value: dict[str, Any]) -> Any:
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return [_value(item) for item in value["arrayValue"].get("values", [])]
    for kind in ("boolValue", "doubleValue"):
        if kind in value:
            return value[kind]
    return value


def _attributes(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["key"]: _value(item.get("value", {})) for item in items}


@pytest.fixture
def dex(tmp_path: Path) -> Iterator[Dex]:
    """A real OpenID Connect issuer (Dex, tests/support/issuer.py) on a free loopback port."""
    started = Dex(tmp_path)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Redis]:
    """A real redis-server on a free loopback port, without persistence."""
    started = Redis(tmp_path)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    """A real OpenTelemetry Collector on a free loopback port, stopped by PID at teardown."""
    started = Collector(tmp_path)
    try:
        yield started
    finally:
        started.stop()
