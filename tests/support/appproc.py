"""The real service as a `python -m app` subprocess on 127.0.0.1, and free loopback ports.

`launch_app(**env)` runs the service as the container does (`python -m app`, with the
interpreter running the tests, so the PID it stops is the server's), bound to 127.0.0.1 on
a free port, waits until `/health` answers and returns an `AppProcess`. The server starts
from a clean environment: the variables the test sets plus the basics a process needs
(PATH, HOME, the locale); nothing else from the calling shell reaches it, so an `OTEL_*` or
`APP_*` variable a developer exported never changes a test. Prefer the `start_app` fixture
(tests/conftest.py), which stops every process it started.

Example::

    proc = launch_app(LOG_LEVEL="debug")           # waits for readiness
    status, body = proc.get("/health")
    assert proc.stop() == 0                        # SIGTERM by PID; exit status
    assert any(line["logger"] == "app.access" for line in proc.json_lines())
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_READY_TIMEOUT = 30.0
DEFAULT_STOP_TIMEOUT = 30.0

# Inherited by every server: what finding programs, a home and the locale need.
BASIC_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS just reported free (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_environment(**overrides: object) -> dict[str, str]:
    """The environment of a server: the basics, HOST=127.0.0.1, and `overrides` on top.

    PYTHONPATH points at the repository so `python -m app` imports this checkout.
    """
    env = {name: os.environ[name] for name in BASIC_VARIABLES if name in os.environ}
    env["HOST"] = "127.0.0.1"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def http_get(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 10.0
) -> tuple[int, bytes]:
    """One GET to 127.0.0.1:`port` on a fresh connection; returns (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class AppProcess:
    """A running `python -m app`; stdout and stderr are collected line by line in the
    background (so a chatty server never blocks on a full pipe)."""

    def __init__(self, popen: subprocess.Popen[bytes], port: int) -> None:
        self.popen = popen
        self.port = port
        self.host = "127.0.0.1"
        self._stdout: list[bytes] = []
        self._stderr: list[bytes] = []
        self._readers = [
            threading.Thread(target=self._pump, args=(popen.stdout, self._stdout), daemon=True),
            threading.Thread(target=self._pump, args=(popen.stderr, self._stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _pump(stream: IO[bytes], sink: list[bytes]) -> None:
        for line in stream:
            sink.append(line.removesuffix(b"\n"))

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_lines(self) -> list[bytes]:
        """Every non-empty line written so far, stdout's then stderr's, as bytes."""
        return [line for line in [*self._stdout, *self._stderr] if line]

    def stdout_lines(self) -> list[str]:
        """Lines written to stdout so far (after `wait`/`stop`: all of them)."""
        return [line.decode("utf-8", "replace") for line in list(self._stdout)]

    def stderr_text(self) -> str:
        return "\n".join(line.decode("utf-8", "replace") for line in list(self._stderr))

    def log_text(self) -> str:
        """Everything written so far, stdout then stderr."""
        return "\n".join([*self.stdout_lines(), self.stderr_text()])

    def json_lines(self) -> list[dict[str, Any]]:
        """Every stdout line parsed with `json.loads` (raises if one is not JSON)."""
        return [json.loads(line) for line in self.stdout_lines() if line]

    def get(
        self, path: str, headers: dict[str, str] | None = None, timeout: float = 10.0
    ) -> tuple[int, bytes]:
        """One GET on a fresh connection; returns (status, body)."""
        return http_get(self.port, path, headers, timeout)

    def wait_ready(self, timeout: float = DEFAULT_READY_TIMEOUT, path: str = "/health") -> None:
        """Poll `path` until it answers 200; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                self._join_readers()
                raise RuntimeError(
                    f"python -m app exited with {self.popen.returncode} before it was ready:\n"
                    f"{self.stderr_text()}\n{chr(10).join(self.stdout_lines())}"
                )
            try:
                if self.get(path, timeout=1.0)[0] == 200:
                    return
            except (OSError, http.client.HTTPException):
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
        """Send `sig` to the PID, wait up to `timeout`, then SIGKILL; returns the exit status."""
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
    """
    port = free_port() if port is None else port
    popen = subprocess.Popen(
        [sys.executable, "-m", "app"],
        cwd=REPO_ROOT,
        env=app_environment(**{"PORT": port, **env}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc = AppProcess(popen, port)
    if wait:
        try:
            proc.wait_ready(ready_timeout)
        except BaseException:
            proc.stop(signal.SIGKILL, timeout=10)
            raise
    return proc
