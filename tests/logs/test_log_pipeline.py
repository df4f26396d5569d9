"""The test cluster's log pipeline without the cluster: the real log agent (`otelcol-logs` with
ci/logagent/config.yaml) tails pod log files written in containerd's CRI format into a real
VictoriaLogs (`victoria-logs`), and the smoke test's own checks (ci/smoke/logs_check.py) read
the store, as smoke steps 27-29 do on the cluster. Lines over 16 KiB are written as containerd
writes them (16 KiB partial `P` parts, then the final `F` one); the traceback is the real one
ci/smoke/error_line.py writes through the app's logging; the line over 16 KiB is what the real
app writes for a long X-Forwarded-For from a trusted proxy (step 28 relies on it). A few
seconds in all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.appproc import REPO_ROOT, free_port
from tests.support.tools import tool
from tests.support.wait import wait_for

AGENT_CONFIG = REPO_ROOT / "ci" / "logagent" / "config.yaml"
LOGS_CHECK = REPO_ROOT / "ci" / "smoke" / "logs_check.py"
ERROR_LINE = REPO_ROOT / "ci" / "smoke" / "error_line.py"
# containerd 1.6's max_container_log_line_size: longer lines are split into parts this long.
CRI_SPLIT = 16 * 1024
NAMESPACE = "production-api-smoke"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
SPAN_ID = "b7ad6b7169203331"


@dataclass
class Pipeline:
    url: str
    pods: Path
    agent_log: Path

    def write(self, pod: str, lines: list[str], stream: str = "stdout") -> Path:
        """Appends LINES to POD's log file as containerd writes them (CRI format, split)."""
        uid = f"0f3c1a2b-0000-0000-0000-{abs(hash(pod)) % 10**12:012d}"
        path = self.pods / f"{NAMESPACE}_{pod}_{uid}" / "app" / "0.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            for line in lines:
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000000000Z"
                parts = [line[i : i + CRI_SPLIT] for i in range(0, len(line), CRI_SPLIT)] or [""]
                for part in parts[:-1]:
                    log.write(f"{stamp} {stream} P {part}\n")
                log.write(f"{stamp} {stream} F {parts[-1]}\n")
        return path

    def check(self, *args: str) -> str:
        """ci/smoke/logs_check.py CHECK ARGS until it passes (exit 1: not there yet)."""
        command = [sys.executable, str(LOGS_CHECK), self.url, NAMESPACE, *args]
        seen: list[subprocess.CompletedProcess[str]] = []

        def passed() -> bool:
            seen.append(subprocess.run(command, capture_output=True, text=True, check=False))
            assert seen[-1].returncode in (0, 1), seen[-1].stdout + seen[-1].stderr
            return seen[-1].returncode == 0

        wait_for(f"logs_check {args[0]} ({self.agent_log.read_text()[-2000:]})", passed, 20)
        return seen[-1].stdout.strip()


def _start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )


def _agent_env(include: str, storage: Path, endpoint: str) -> dict[str, str]:
    return {
        "LOGAGENT_INCLUDE": include,
        "LOGAGENT_STORAGE": str(storage),
        "LOGAGENT_ENDPOINT": endpoint,
        "LOGAGENT_NODE": "pytest-worker",
    }


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    work = tmp_path_factory.mktemp("logs")
    (work / "storage").mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    store = _start(
        [
            tool("victoria-logs"),
            f"-storageDataPath={work / 'store'}",
            f"-httpListenAddr=127.0.0.1:{port}",
            "-loggerLevel=WARN",
        ],
        work / "victoria-logs.log",
        {},
    )
    env = _agent_env(
        str(work / "pods" / "*" / "*" / "*.log"),
        work / "storage",
        f"{url}/insert/opentelemetry/v1/logs",
    )
    agent = _start([tool("otelcol-logs"), f"--config={AGENT_CONFIG}"], work / "agent.log", env)
    try:
        wait_for(
            "VictoriaLogs /health",
            lambda: (
                subprocess.run(["curl", "-fsS", f"{url}/health"], capture_output=True).returncode
                == 0
            ),
            30,
            0.1,
        )
        wait_for("the agent's offset store", lambda: list((work / "storage").iterdir()), 30, 0.1)
        yield Pipeline(url, work / "pods", work / "agent.log")
    finally:
        for proc in (agent, store):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _access_line(request_id: str, path: str = "/items/7", **extra: object) -> str:
    return json.dumps(
        {
            "timestamp": "2026-12-04T16:00:00.000Z",
            "level": "info",
            "logger": "app.access",
            "message": f"GET {path} 200",
            "method": "GET",
            "path": path,
            "route": "/items/{item_id}",
            "status": 200,
            "duration_ms": 1.234,
            "request_id": request_id,
            **extra,
        },
        separators=(",", ":"),
    )


def test_agent_config_validates() -> None:
    env = _agent_env("/var/log/pods/*/*/*.log", Path("/tmp"), "http://127.0.0.1:9428/x")  # noqa: S108
    proc = subprocess.run(
        [tool("otelcol-logs"), "validate", f"--config={AGENT_CONFIG}"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_app_writes_a_line_over_16_kib_for_a_long_forwarded_for(start_app) -> None:
    """A trusted proxy's X-Forwarded-For (a port-forward comes from 127.0.0.1, the default
    FORWARDED_ALLOW_IPS) is logged whole as the access line's client: smoke step 28's line."""
    app = start_app(SHUTDOWN_DRAIN_SECONDS="0")
    status, _ = app.get(
        "/items/1", headers={"X-Forwarded-For": "a" * 20000, "X-Request-ID": "long-1"}
    )
    assert status == 200
    line = wait_for(
        "the access line",
        lambda: next((x for x in app.stdout_lines() if '"request_id":"long-1"' in x), None),
        10,
        0.1,
    )
    assert len(line.encode()) > CRI_SPLIT
    assert json.loads(line)["client"] == "a" * 20000 + ":0"


def test_traced_access_line_found_by_trace_id_then_by_request_id(pipeline: Pipeline) -> None:
    pipeline.write(
        "production-api-7d9f-abcde",
        [
            "not JSON: kept whole as the message",
            _access_line("9f" * 16, trace_id=TRACE_ID, span_id=SPAN_ID, client="10.88.0.7:5"),
        ],
    )
    out = pipeline.check("traced", TRACE_ID, PARENT_ID, "/items/7", "/items/{item_id}")
    assert out.startswith(f"trace {TRACE_ID} -> access line 'GET /items/7 200' from pod ")
    assert f"request_id={'9f' * 16} span_id={SPAN_ID}" in out
    assert "(namespace production-api-smoke, node pytest-worker)" in out
    out = pipeline.check("request", "9f" * 16, TRACE_ID)
    assert "exactly one access line" in out


def test_a_line_split_by_the_runtime_is_one_record(pipeline: Pipeline) -> None:
    pipeline.write("production-api-7d9f-long", [_access_line("long-2", client="b" * 40000)])
    out = pipeline.check("long-line", "long-2", "40000")
    assert "one record" in out
    assert "the runtime wrote it as 3 parts (P P F)" in out


def test_a_traceback_is_one_record(pipeline: Pipeline) -> None:
    written = subprocess.run(
        [sys.executable, "-m", "error_line", "marker-3"],
        env={**os.environ, "PYTHONPATH": f"{ERROR_LINE.parent}{os.pathsep}{REPO_ROOT}"},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = written.stdout.splitlines()
    assert len(lines) == 1
    pipeline.write("production-api-smoke-traceback", lines)
    out = pipeline.check("traceback", "production-api-smoke-traceback", "marker-3", "1")
    assert "(3 frames," in out or "(4 frames," in out
    assert "as one record: level=error logger=app.error" in out


def test_every_line_of_a_deleted_pods_file_is_stored(pipeline: Pipeline) -> None:
    """The kubelet removes a deleted pod's log directory: what the agent read before is kept."""
    start = str(int(time.time()) - 1)
    client = "10.88.0.42"
    victim = pipeline.write(
        "production-api-7d9f-victim",
        [_access_line(f"v{i}", path="/items/1", client=f"{client}:{4000 + i}") for i in range(40)]
        + ['{"level":"info","logger":"uvicorn.error","message":"Finished server process [1]"}'],
    )
    pipeline.write(
        "production-api-7d9f-other",
        [_access_line(f"o{i}", path="/items/1", client=f"{client}:{5000 + i}") for i in range(25)],
    )
    time.sleep(1)
    for file in victim.parent.iterdir():
        file.unlink()
    out = pipeline.check("window", client, start, "65", "production-api-7d9f-victim")
    assert out.startswith("the client received 65 responses, the store holds 65 access lines")
    assert "deleted pod production-api-7d9f-victim: 40," in out
