"""Helpers of the monitoring tests: chart paths, object lookup, a Prometheus process handle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

# Shared with ci/smoke.sh's checks against the Prometheus the Prometheus Operator runs.
from ci.prometheus_check import dashboard_queries, expand_dashboard_variables

__all__ = ["dashboard_queries", "expand_dashboard_variables"]

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "production-api"
HERE = Path(__file__).resolve().parent

PROMETHEUS_READY_TIMEOUT = 30.0
PROMETHEUS_STOP_TIMEOUT = 15.0


def find_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The single rendered object of `kind`."""
    found = [doc for doc in docs if doc.get("kind") == kind]
    assert len(found) == 1, f"expected one {kind}, rendered {len(found)}"
    return found[0]


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
