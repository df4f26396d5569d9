"""Shared fixtures: free loopback ports and the real service as a `python -m app` subprocess.

`start_app(**env)` runs the service exactly as the container does (`python -m app`, with the
interpreter running the tests), bound to 127.0.0.1 on a free port, waits until `/health`
answers, and returns an `AppProcess`. Every process a test started is stopped by its PID at
teardown (SIGTERM, then SIGKILL if it does not exit in time). Environment variables of the
service that happen to be set in the calling shell are removed, so only the test decides.

Example::

    def test_serves(start_app):
        proc = start_app(LOG_LEVEL="debug")            # waits for readiness
        status, body = proc.get("/health")
        assert status == 200
        assert proc.stop() == 0                        # SIGTERM; exit status
        assert any(line["logger"] == "app.access" for line in proc.json_lines())

`collector` is a real OpenTelemetry Collector (`otelcol-test`, built from ci/otelcol/ by
ci/install-tools.sh) receiving OTLP/HTTP on 127.0.0.1 on a free port and writing what it
receives to a JSON-lines file, which `Collector.spans()` reads back.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Every variable the service reads (see app/settings.py); scrubbed from inherited env.
APP_ENV_VARS = (
    "APP_NAME",
    "APP_ENV",
    "APP_VERSION",
    "HOST",
    "PORT",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "ACCESS_LOG_PROBES",
    "SHUTDOWN_DRAIN_SECONDS",
    "SHUTDOWN_TIMEOUT_SECONDS",
    "READINESS_DEPENDENCIES",
    "READINESS_TIMEOUT_SECONDS",
    "READINESS_CACHE_SECONDS",
    "CORS_ORIGINS",
    "DOCS_ENABLED",
    "FORWARDED_ALLOW_IPS",
    "FASTAPI_TELEMETRY",
    "TRACING_PROBES",
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_PROPAGATORS",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
)

DEFAULT_READY_TIMEOUT = 30.0
DEFAULT_STOP_TIMEOUT = 30.0


def find_free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS just reported free (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_environment(**overrides: object) -> dict[str, str]:
    """The inherited environment without the service's variables, plus `overrides`.

    HOST defaults to 127.0.0.1 so nothing listens beyond loopback; PYTHONPATH points at the
    repository so `python -m app` imports this checkout.
    """
    env = {key: value for key, value in os.environ.items() if key not in APP_ENV_VARS}
    env["HOST"] = "127.0.0.1"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    env.update({key: str(value) for key, value in overrides.items()})
    return env


class AppProcess:
    """A running `python -m app`; stdout/stderr are collected line by line in the background."""

    def __init__(self, popen: subprocess.Popen[str], port: int) -> None:
        self.popen = popen
        self.port = port
        self.host = "127.0.0.1"
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._pump, args=(popen.stdout, self._stdout), daemon=True),
            threading.Thread(target=self._pump, args=(popen.stderr, self._stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _pump(stream: Any, sink: list[str]) -> None:
        # Reading continuously keeps a chatty server from blocking on a full pipe.
        for line in stream:
            sink.append(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def stdout_lines(self) -> list[str]:
        """Lines written to stdout so far (after `wait`/`stop`: all of them)."""
        return list(self._stdout)

    def stderr_text(self) -> str:
        return "\n".join(self._stderr)

    def json_lines(self) -> list[dict[str, Any]]:
        """Every stdout line parsed with `json.loads` (raises if one is not JSON)."""
        return [json.loads(line) for line in self.stdout_lines() if line]

    def get(
        self, path: str, headers: dict[str, str] | None = None, timeout: float = 10.0
    ) -> tuple[int, bytes]:
        """One GET on a fresh connection; returns (status, body)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def wait_ready(self, timeout: float = DEFAULT_READY_TIMEOUT, path: str = "/health") -> None:
        """Poll `path` until it answers 200; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                self._join_readers()
                raise RuntimeError(
                    f"python -m app exited with {self.popen.returncode} before it was ready:\n"
                    f"{self.stderr_text()}\n{chr(10).join(self._stdout)}"
                )
            try:
                if self.get(path, timeout=1.0)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"python -m app not ready on port {self.port} within {timeout}s")

    def send_signal(self, sig: int = signal.SIGTERM) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, sig)

    def wait(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> int:
        """Wait for the exit status (raises subprocess.TimeoutExpired) and drain the output."""
        code = self.popen.wait(timeout=timeout)
        self._join_readers()
        return code

    def stop(self, sig: int = signal.SIGTERM, timeout: float = DEFAULT_STOP_TIMEOUT) -> int:
        """Send `sig`, wait up to `timeout`, then SIGKILL; returns the exit status."""
        self.send_signal(sig)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.wait(timeout)

    def _join_readers(self) -> None:
        for reader in self._readers:
            reader.join(timeout=5)


def launch_app(
    port: int | None = None,
    *,
    wait: bool = True,
    ready_timeout: float = DEFAULT_READY_TIMEOUT,
    **env: object,
) -> AppProcess:
    """Start `python -m app` on 127.0.0.1 (free port unless given) with `env` on top.

    `env` may override PORT too (e.g. an invalid value, with `wait=False`).
    With `wait=False` it returns at once (for processes expected to fail start-up).
    Prefer the `start_app` fixture, which also guarantees the process is stopped.
    """
    port = find_free_port() if port is None else port
    popen = subprocess.Popen(
        [sys.executable, "-m", "app"],
        cwd=REPO_ROOT,
        env=app_environment(**{"PORT": port, **env}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    proc = AppProcess(popen, port)
    if wait:
        try:
            proc.wait_ready(ready_timeout)
        except BaseException:
            proc.stop(signal.SIGKILL, timeout=10)
            raise
    return proc


@pytest.fixture
def app_env_vars() -> tuple[str, ...]:
    """Names of every environment variable the service reads."""
    return APP_ENV_VARS


@pytest.fixture
def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    return find_free_port()


@pytest.fixture
def start_app() -> Iterator[Callable[..., AppProcess]]:
    """Factory `start_app(port=None, *, wait=True, ready_timeout=30, **env) -> AppProcess`.

    Processes still running at teardown are stopped by PID.
    """
    started: list[AppProcess] = []

    def start(
        port: int | None = None,
        *,
        wait: bool = True,
        ready_timeout: float = DEFAULT_READY_TIMEOUT,
        **env: object,
    ) -> AppProcess:
        proc = launch_app(port, wait=wait, ready_timeout=ready_timeout, **env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.returncode is None:
            proc.stop(signal.SIGTERM, timeout=DEFAULT_STOP_TIMEOUT)


class Collector:
    """A running `otelcol-test`: the OTLP receiver (HTTP) on `host`:`port` (127.0.0.1 and a
    free port unless given), every trace it receives written by the file exporter to
    `spans_file` (OTLP JSON, one request per line)."""

    def __init__(self, workdir: Path, port: int | None = None, host: str = "127.0.0.1") -> None:
        binary = shutil.which("otelcol-test")
        if binary is None:
            pytest.fail("otelcol-test is not on PATH: run ci/install-tools.sh and source ci/lib.sh")
        self.host = host
        self.port = find_free_port() if port is None else port
        self.spans_file = workdir / f"spans-{self.port}.jsonl"
        self.log_file = workdir / f"otelcol-{self.port}.log"
        config = workdir / f"otelcol-{self.port}.yaml"
        config.write_text(
            json.dumps(
                {
                    "receivers": {
                        "otlp": {"protocols": {"http": {"endpoint": f"{host}:{self.port}"}}}
                    },
                    "exporters": {
                        "file": {"path": str(self.spans_file), "flush_interval": "100ms"}
                    },
                    "service": {
                        # No telemetry port of its own, so collectors never clash.
                        "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "warn"}},
                        "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["file"]}},
                    },
                }
            )
        )
        with self.log_file.open("wb") as log:
            self.popen = subprocess.Popen(
                [binary, f"--config={config}"],
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
def collector(tmp_path: Path) -> Iterator[Collector]:
    """A real OpenTelemetry Collector on a free loopback port, stopped by PID at teardown."""
    started = Collector(tmp_path)
    try:
        yield started
    finally:
        started.stop()
