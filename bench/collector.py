"""The OpenTelemetry Collector the tracing variants export to: the tests' own `otelcol-test`
(built from ci/otelcol/ by ci/install-tools.sh) with the project's one configuration,
ci/otelcol/config.yaml, counting what it receives with the debug exporter (one log line per
batch) instead of storing it. It is pinned to the load core, with wrk."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness import REPO_ROOT, cpu_prefix, free_port

from tests.support.tools import INSTALL_HINT, find_tool

CONFIG = REPO_ROOT / "ci" / "otelcol" / "config.yaml"


@dataclass
class Collector:
    """`otelcol-test` on a free port, its log (the debug exporter's lines) in `log_path`."""

    port: int
    log_path: Path
    proc: subprocess.Popen[bytes]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spans_received(self) -> int:
        text = self.log_path.read_text(errors="replace")
        return sum(int(n) for n in re.findall(r'"spans": (\d+)', text))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_collector(args: argparse.Namespace, out_dir: Path) -> Collector:
    binary = find_tool("otelcol-test")
    if binary is None:
        raise RuntimeError(f"otelcol-test is not on PATH: {INSTALL_HINT}")
    port = free_port()
    env = {
        **os.environ,
        "OTELCOL_ENDPOINT": f"127.0.0.1:{port}",
        "OTELCOL_EXPORTER": "debug",
        "OTELCOL_LOG_LEVEL": "info",
        # Required by the configuration; nothing is written there with the debug exporter.
        "OTELCOL_SPANS_FILE": str(out_dir / "otelcol-spans.jsonl"),
    }
    log_path = out_dir / "otelcol.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*cpu_prefix(args.load_cpu), binary, f"--config={CONFIG}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"otelcol-test exited; see {log_path}")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Collector(port, log_path, proc)
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"otelcol-test did not listen on {port}; see {log_path}")
