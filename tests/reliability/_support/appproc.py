"""Start a real `python -m app` on 127.0.0.1 and stop it by PID."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    """Ask the OS for a free loopback port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(
    port: int, path: str, timeout: float = 5.0, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One GET on a fresh connection: (status, lower-cased headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


@dataclass
class AppProcess:
    """A `python -m app` subprocess bound to a free loopback port, logs captured to a file."""

    env_overrides: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _log_file: object = None

    def start(self, ready_timeout: float = 30.0) -> AppProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "READINESS_"))}
        env.update(
            {
                "HOST": "127.0.0.1",
                "PORT": str(self.port),
                "LOG_FORMAT": "json",
                "LOG_LEVEL": "info",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.env_overrides)
        fd, name = tempfile.mkstemp(prefix="production-api-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app"],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self.wait_healthy(ready_timeout)
        return self

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"app exited with {self.proc.returncode} before serving:\n{self.log_text()}"
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _, _ = http_get(self.port, "/health", timeout=1.0)
                if status == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"app not healthy within {timeout}s:\n{self.log_text()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def get(self, path: str, **kw: object) -> tuple[int, dict[str, str], bytes]:
        return http_get(self.port, path, **kw)  # type: ignore[arg-type]

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def log_lines(self) -> list[bytes]:
        if self.log_path is None:
            return []
        return [ln for ln in self.log_path.read_bytes().split(b"\n") if ln]

    def json_log_records(self) -> list[dict]:
        return [json.loads(ln) for ln in self.log_lines()]

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM the PID we started, SIGKILL it if it outlives `timeout`."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None
        return self.proc.returncode

    def cleanup(self) -> None:
        self.stop()
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> AppProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
