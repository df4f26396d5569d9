"""The servers under test and how the harness runs them: their specs, one process each (one
uvicorn worker pinned to the server core, started from the repository root with the image's
interpreter environment), plain HTTP GETs and the /proc readings taken of them. Over 250 lines
because the ten servers' specs are one table, beside the code that starts them."""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVERS_DIR = "bench/servers"  # relative: every server runs with cwd = REPO_ROOT

# The service's own settings list, so the harness always scrubs every variable it reads.
sys.path.insert(0, str(REPO_ROOT))

from app.settings import ALLOWED as APP_SETTINGS  # noqa: E402
from tests.support.appproc import free_port  # noqa: E402 (after the path is set)

ENDPOINTS = {"/": "/", "/health": "/health", "/items/{item_id}": "/items/42"}

# name -> (description, argv after the interpreter, has /metrics)
SERVER_SPECS: dict[str, tuple[str, list[str], bool]] = {
    "ceiling": (
        "raw ASGI app, same JSON, no framework",
        ["-m", "uvicorn", "--app-dir", SERVERS_DIR, "--no-access-log", "ceiling:app"],
        False,
    ),
    "baseline": (
        "bare FastAPI, same routes, no instrumentation",
        ["-m", "uvicorn", "--app-dir", SERVERS_DIR, "--no-access-log", "baseline:app"],
        False,
    ),
    "production-api": (
        "`python -m app`, default settings (metrics, JSON access logs, request ids)",
        ["-m", "app"],
        True,
    ),
    "tutorial": (
        'FastAPI + `@app.middleware("http")` metrics labelled by raw path',
        ["-m", "uvicorn", "--app-dir", SERVERS_DIR, "--no-access-log", "tutorial:app"],
        True,
    ),
    "traced-1.0": (
        "`python -m app`, tracing on: ratio sampler 1.0 (every request a span), OTLP/HTTP to "
        "the collector",
        ["-m", "app"],
        False,
    ),
    "traced-0.1": (
        "`python -m app`, tracing on: ratio sampler 0.1, OTLP/HTTP to the collector",
        ["-m", "app"],
        False,
    ),
    "zero-code-1.0": (
        "the baseline under `opentelemetry-instrument` (zero-code: opentelemetry-distro, the "
        "FastAPI instrumentation), ratio sampler 1.0, OTLP/HTTP to the collector",
        ["-m", "uvicorn", "--app-dir", SERVERS_DIR, "--no-access-log", "baseline:app"],
        False,
    ),
    "zero-code-0.1": (
        "the same, ratio sampler 0.1",
        ["-m", "uvicorn", "--app-dir", SERVERS_DIR, "--no-access-log", "baseline:app"],
        False,
    ),
}
SERVER_SPECS["authenticated"] = (
    "`python -m app`, authentication on (AUTH_ISSUER: a real Dex); every request carries the "
    "same RS256 ID token, so after its first check it comes from the verified-token cache",
    ["-m", "app"],
    False,
)
SERVER_SPECS["rate-limited"] = (
    "`python -m app`, rate limiting on (memory storage), a limit wrk never reaches: what "
    "counting every request costs",
    ["-m", "app"],
    False,
)
# The security variants: production-api with these variables; the authenticated one also
# with AUTH_ISSUER (bench/auth.py's Dex), and its requests carry a token from it.
SECURED = {
    "authenticated": {"AUTH_AUDIENCE": "production-api"},
    "rate-limited": {"RATE_LIMIT": "1000000000/minute"},
}
AUTHENTICATED = "authenticated"
# The tracing variants: production-api with these variables, plus the collector's endpoint.
TRACED = {
    "traced-1.0": {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.0"},
    "traced-0.1": {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
}
# What a user would reach for instead: the bare app under the zero-code instrumentation, with
# the same sampler and collector, spans only (no OTLP metrics or logs), /health not traced
# (as production-api's probes are not).
_ZERO_CODE = {
    "OTEL_SERVICE_NAME": "baseline",
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "OTEL_TRACES_SAMPLER": "traceidratio",
    "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS": "health",
}
ZERO_CODE = {
    "zero-code-1.0": {**_ZERO_CODE, "OTEL_TRACES_SAMPLER_ARG": "1.0"},
    "zero-code-0.1": {**_ZERO_CODE, "OTEL_TRACES_SAMPLER_ARG": "0.1"},
}
# The peer of each tracing variant.
PEER = {"traced-1.0": "zero-code-1.0", "traced-0.1": "zero-code-0.1"}
INSTRUMENT = "opentelemetry-instrument"


def cpu_prefix(cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu)] if cpu is not None else []


def interpreter_command() -> str:
    """The interpreter as the report names it: `$VENV/bin/python` inside a venv (whose path is
    the machine's own), otherwise the interpreter's name as found on PATH."""
    name = Path(sys.executable).name
    return f"$VENV/bin/{name}" if sys.prefix != sys.base_prefix else name


def display_argv(argv: list[str], port: int) -> list[str]:
    """A server's command as a reader can run it from the repository root: the interpreter as
    `interpreter_command()`, paths inside the repository relative, the port as `$PORT`."""
    shown = []
    for arg in argv:
        if arg == sys.executable:
            arg = interpreter_command()
        elif arg == instrument_command():
            arg = str(Path(interpreter_command()).with_name(INSTRUMENT))
        elif arg == str(port):
            arg = "$PORT"
        elif arg.startswith(str(REPO_ROOT) + os.sep):
            arg = os.path.relpath(arg, REPO_ROOT)
        shown.append(arg)
    return shown


def instrument_command() -> str:
    """The zero-code launcher, installed beside the interpreter (the dev lock pins it)."""
    return str(Path(sys.executable).with_name(INSTRUMENT))


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    stdout_path: Path
    stderr_path: Path
    proc: subprocess.Popen[bytes] | None = None
    t_spawn: float = 0.0  # perf_counter() when the process was spawned
    _files: list[IO[bytes]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        out = open(self.stdout_path, "ab")  # noqa: SIM115 - closed in stop()
        err = open(self.stderr_path, "ab")  # noqa: SIM115
        self._files = [out, err]
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )

    def stop(self, grace: float = 3.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._close_files()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._close_files()

    def _close_files(self) -> None:
        for f in self._files:
            f.close()
        self._files = []


def make_server(name: str, args: argparse.Namespace, out_dir: Path, tag: str = "") -> Server:
    _, tail, _ = SERVER_SPECS[name]
    port = free_port()
    launcher = [instrument_command()] if name in ZERO_CODE else []
    argv = [*cpu_prefix(args.server_cpu), *launcher, sys.executable, *tail]
    env = dict(os.environ)
    # The interpreter environment the image ships with (Dockerfile: unbuffered stdout), the
    # same for every server, whatever the calling shell had.
    for var in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED", "PYTHONOPTIMIZE"):
        env.pop(var, None)
    env["PYTHONUNBUFFERED"] = "1"
    # The app's own settings come from these; strip anything a developer shell may carry so
    # production-api really runs with its defaults.
    for var in APP_SETTINGS:
        env.pop(var, None)
    if name == "production-api" or name in TRACED or name in SECURED:
        env.update({"HOST": "127.0.0.1", "PORT": str(port)})
        if name in TRACED:
            env.update(TRACED[name], OTEL_EXPORTER_OTLP_ENDPOINT=args.collector.endpoint)
        if name in SECURED:
            env.update(SECURED[name])
        if name == AUTHENTICATED:
            env["AUTH_ISSUER"] = args.dex.issuer
    else:
        argv += ["--host", "127.0.0.1", "--port", str(port)]
        if name in ZERO_CODE:
            env.update(ZERO_CODE[name], OTEL_EXPORTER_OTLP_ENDPOINT=args.collector.endpoint)
    suffix = f".{tag}" if tag else ""
    return Server(
        name=name,
        argv=argv,
        env=env,
        port=port,
        stdout_path=out_dir / f"{name}{suffix}.stdout.log",
        stderr_path=out_dir / f"{name}{suffix}.stderr.log",
    )


def request_headers(name: str, args: argparse.Namespace) -> dict[str, str]:
    """The headers every request to server `name` carries: the token for the authenticated."""
    return {"Authorization": f"Bearer {args.token}"} if name == AUTHENTICATED else {}


def http_get(
    port: int, path: str, timeout: float = 5.0, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def spawn(server: Server) -> None:
    server.t_spawn = time.perf_counter()
    server.start()


def wait_healthy(server: Server, timeout: float = 30.0) -> float:
    """Poll /health until 200; return seconds since the process was spawned."""
    assert server.proc is not None
    t0 = server.t_spawn
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.proc.returncode}; see {server.stderr_path}"
            )
        try:
            status, _ = http_get(server.port, "/health", timeout=1.0)
            if status == 200:
                return time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.002)
    raise RuntimeError(f"{server.name} not healthy after {timeout}s; see {server.stderr_path}")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
