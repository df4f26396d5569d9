"""Side-by-side benchmark of production-api against a raw ASGI ceiling, a bare FastAPI
baseline and the tutorial-style metrics middleware, and of production-api with tracing on
(ratio samplers 1.0 and 0.1, exporting to a real OpenTelemetry Collector) against its default.

Every server is ONE uvicorn worker pinned to one core; wrk is pinned to the other core. All
traffic goes to 127.0.0.1 on ports the OS hands out. Rounds are interleaved across servers
(shuffled order per round) and the tables report medians, so a noisy neighbour hurts every
server alike instead of one of them.

Usage (from the repository root, with the project's venv Python):
    python bench/bench.py                 # full run, writes bench/RESULTS.md (< 10 min)
    python bench/bench.py --quick --output /tmp/r.md   # smoke run, a few seconds per phase
Normally started by `make bench` (bench/run.sh), which installs wrk first.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.metadata
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVERS_DIR = "bench/servers"  # relative: every server runs with cwd = REPO_ROOT
DEFAULT_OUT_DIR = REPO_ROOT / "bench" / "out"

# The service's own settings list, so the harness always scrubs every variable it reads.
sys.path.insert(0, str(REPO_ROOT))
from app.settings import ALLOWED as APP_SETTINGS  # noqa: E402

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
}
# The tracing variants: production-api with these variables, plus the collector's endpoint.
TRACED = {
    "traced-1.0": {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.0"},
    "traced-0.1": {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
}
# The collector the tracing variants export to: the tests' own (ci/otelcol), counting what it
# receives with the debug exporter (one line per batch) instead of storing it.
COLLECTOR_CONFIG = """\
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{port}
exporters:
  debug:
    verbosity: basic
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
"""

CLK_TCK = os.sysconf("SC_CLK_TCK")

TARGETS = {
    # Observability for under 5 %: req/s and req per CPU-second of the shipped app against
    # bare FastAPI with the same routes (stretch: 1.0x), p99 within 10 % of it.
    "throughput_vs_baseline": 0.95,
    "p99_vs_baseline": 1.1,
    "throughput_vs_tutorial": 2.4,
    "startup_vs_baseline": 1.1,
    "rss_mib": 60.0,
    "image_mb": 150.0,
}


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def interpreter_command() -> str:
    """The interpreter as the report names it: `$VENV/bin/python` inside a venv (whose path is
    the machine's own), otherwise the interpreter's name as found on PATH."""
    name = Path(sys.executable).name
    return f"$VENV/bin/{name}" if sys.prefix != sys.base_prefix else name


def interpreter_environment() -> str:
    """What `$VENV` stands for in the report (empty outside a venv)."""
    if sys.prefix == sys.base_prefix:
        return ""
    if os.environ.get("PY_VENV") and Path(os.environ["PY_VENV"]).resolve() == Path(sys.prefix):
        return (
            "`$VENV` is the project venv, made from `requirements-dev.lock` by "
            "`ci/install-tools.sh` (`${XDG_CACHE_HOME:-~/.cache}/production-api/venv`)"
        )
    return "`$VENV` is the venv the harness ran in (`BENCH_PYTHON`)"


def display_argv(argv: list[str], port: int) -> list[str]:
    """A server's command as a reader can run it from the repository root: the interpreter as
    `interpreter_command()`, paths inside the repository relative, the port as `$PORT`."""
    shown = []
    for arg in argv:
        if arg == sys.executable:
            arg = interpreter_command()
        elif arg == str(port):
            arg = "$PORT"
        elif arg.startswith(str(REPO_ROOT) + os.sep):
            arg = os.path.relpath(arg, REPO_ROOT)
        shown.append(arg)
    return shown


def cpu_prefix(cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu)] if cpu is not None else []


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    stdout_path: Path
    stderr_path: Path
    proc: subprocess.Popen | None = None
    _files: list = field(default_factory=list)

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
        for f in self._files:
            f.close()
        self._files = []

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for f in self._files:
            f.close()
        self._files = []


@dataclass
class Collector:
    """`otelcol-test` (built by ci/install-tools.sh) on a free port, pinned with wrk."""

    port: int
    log_path: Path
    proc: subprocess.Popen

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
    binary = shutil.which("otelcol-test")
    if binary is None:
        raise RuntimeError("otelcol-test is not on PATH; ci/install-tools.sh builds it")
    port = free_port()
    config = out_dir / "otelcol.yaml"
    config.write_text(COLLECTOR_CONFIG.format(port=port))
    log_path = out_dir / "otelcol.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*cpu_prefix(args.load_cpu), binary, f"--config={config}"],
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


def make_server(name: str, args: argparse.Namespace, out_dir: Path, tag: str = "") -> Server:
    _, tail, _ = SERVER_SPECS[name]
    port = free_port()
    argv = [*cpu_prefix(args.server_cpu), sys.executable, *tail]
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
    if name == "production-api" or name in TRACED:
        env.update({"HOST": "127.0.0.1", "PORT": str(port)})
        if name in TRACED:
            env.update(TRACED[name], OTEL_EXPORTER_OTLP_ENDPOINT=args.collector.endpoint)
    else:
        argv += ["--host", "127.0.0.1", "--port", str(port)]
    suffix = f".{tag}" if tag else ""
    return Server(
        name=name,
        argv=argv,
        env=env,
        port=port,
        stdout_path=out_dir / f"{name}{suffix}.stdout.log",
        stderr_path=out_dir / f"{name}{suffix}.stderr.log",
    )


def http_get(
    port: int, path: str, timeout: float = 5.0, headers: dict | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_healthy(server: Server, timeout: float = 30.0) -> float:
    """Poll /health until 200; return seconds since the process was spawned."""
    assert server.proc is not None
    t0 = server.t_spawn  # type: ignore[attr-defined]
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


def spawn(server: Server) -> None:
    server.t_spawn = time.perf_counter()  # type: ignore[attr-defined]
    server.start()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def proc_cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def core_ticks(cpu: int) -> tuple[int, int]:
    """(busy, total) jiffies of one core from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            vals = [int(v) for v in line.split()[1:]]
            idle = vals[3] + vals[4]
            return sum(vals) - idle, sum(vals)
    return 0, 0


# --------------------------------------------------------------------------- wrk

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"cannot parse wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(output: str) -> dict:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99 and total):
        raise ValueError(f"unexpected wrk output:\n{output}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "rps": float(rps.group(1)),
        "p50_ms": _ms(p50.group(1)),
        "p99_ms": _ms(p99.group(1)),
        "requests": int(total.group(1)),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(g) for g in sock.groups()) if sock else 0,
    }


def wrk_argv(args: argparse.Namespace, url: str, duration: int) -> list[str]:
    return [
        *cpu_prefix(args.load_cpu),
        args.wrk,
        "--latency",
        f"-c{args.connections}",
        f"-t{args.threads}",
        f"-d{duration}s",
        url,
    ]


def run_wrk(args: argparse.Namespace, server: Server, path: str, duration: int) -> dict:
    url = f"http://127.0.0.1:{server.port}{path}"
    cpu = args.server_cpu if args.server_cpu is not None else 0
    busy0, total0 = core_ticks(cpu)
    mine0 = proc_cpu_ticks(server.pid)
    res = subprocess.run(
        wrk_argv(args, url, duration),
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
    )
    busy1, total1 = core_ticks(cpu)
    mine1 = proc_cpu_ticks(server.pid)
    out = parse_wrk(res.stdout)
    # Share of the server core's wall time this server got: < ~0.95 means something else ran
    # on that core (shared machine) or the server was not CPU-bound.
    out["core_share"] = (mine1 - mine0) / (total1 - total0) if total1 > total0 else 0.0
    out["core_busy"] = (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0
    # Requests per CPU-second the server actually got: what the server would do with a
    # core to itself. Robust against neighbours stealing the core; equal to req/s when
    # the core share is 1.
    cpu_s = (mine1 - mine0) / CLK_TCK
    out["rps_cpu"] = out["requests"] / cpu_s if cpu_s > 0 else 0.0
    return out


# --------------------------------------------------------------------------- phases


def check_responses(servers: dict[str, Server]) -> dict[str, dict[str, str]]:
    """One GET per endpoint per server: every endpoint must answer 200 JSON."""
    bodies: dict[str, dict[str, str]] = {}
    for name, srv in servers.items():
        bodies[name] = {}
        for label, path in ENDPOINTS.items():
            status, body = http_get(srv.port, path)
            if status != 200:
                raise RuntimeError(f"{name} GET {path} -> {status}: {body[:200]!r}")
            bodies[name][label] = body.decode(errors="replace")
    return bodies


def warm_up(server: Server, paths, count: int) -> None:
    """`count` keep-alive GETs per path, so the first timed run does not pay for cold caches."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for path in paths:
            for _ in range(count):
                conn.request("GET", path)
                conn.getresponse().read()
    finally:
        conn.close()


def phase_rounds(args, out_dir: Path, ctx: dict, log) -> dict[str, Server]:
    """Every round starts FRESH server processes (in shuffled order, timing each start-up),
    warms them up, then runs wrk on every endpoint with the server order shuffled.

    Fresh processes per round matter: with hash randomisation and address-space layout
    differing per process, two instances of the same server differ by up to ~10% in req/s;
    the median over rounds is then also a median over instances. The last round's servers
    are left running and returned for the memory and /metrics phases.
    """
    rng = random.Random(args.seed)  # noqa: S311 - shuffling, not security
    names = args.server_names
    results: dict[str, dict[str, list[dict]]] = {n: {e: [] for e in args.endpoints} for n in names}
    startup: dict[str, list[float]] = {n: [] for n in names}
    servers: dict[str, Server] = {}
    ctx["raw_throughput"], ctx["startup"] = results, startup
    for rnd in range(1, args.rounds + 1):
        order = list(names)
        rng.shuffle(order)
        servers = {}
        try:
            for name in order:
                srv = make_server(name, args, out_dir)
                spawn(srv)
                servers[name] = srv
                startup[name].append(wait_healthy(srv))
            log(
                f"round {rnd}/{args.rounds}: started "
                + ", ".join(f"{n} in {startup[n][-1] * 1000:.0f} ms" for n in order)
            )
            if rnd == 1:
                ctx["commands"] = {n: command_line(n, s) for n, s in servers.items()}
                ctx["bodies"] = check_responses(servers)
            for srv in servers.values():
                warm_up(srv, args.endpoints.values(), args.warmup)
            for label, path in args.endpoints.items():
                rng.shuffle(order)
                for name in order:
                    r = run_wrk(args, servers[name], path, args.duration)
                    r["round"] = rnd
                    results[name][label].append(r)
                    log(
                        f"round {rnd}/{args.rounds} {label:<17} {name:<15} "
                        f"{r['rps']:>9.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
                        f"p99 {r['p99_ms']:6.2f} ms  core share {r['core_share']:.2f}  "
                        f"{r['rps_cpu']:>6.0f} req/CPU-s"
                    )
        finally:
            if rnd < args.rounds or sys.exc_info()[0] is not None:
                for srv in servers.values():
                    srv.kill()
    return servers


def command_line(name: str, server: Server) -> list[str]:
    """A server's command as the report shows it, its app variables in front."""
    if name in TRACED:
        env = [f"{k}={v}" for k, v in TRACED[name].items()]
        env.append("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$COLLECTOR_PORT")
        return ["HOST=127.0.0.1", "PORT=$PORT", *env, *display_argv(server.argv, server.port)]
    prefix = ["HOST=127.0.0.1", "PORT=$PORT"] if name == "production-api" else []
    return prefix + display_argv(server.argv, server.port)


def phase_tracing(servers: dict[str, Server], collector: Collector | None, log) -> dict:
    """What the last round's traced servers report about their spans, and what the collector
    received over the whole run."""
    out: dict = {}
    for name, srv in servers.items():
        if name not in TRACED:
            continue
        body = http_get(srv.port, "/metrics", timeout=60)[1].decode()
        series = {
            "exported": "tracing_spans_exported_total",
            "queue_full": 'tracing_spans_dropped_total{reason="queue_full"}',
            "export_failed": 'tracing_spans_dropped_total{reason="export_failed"}',
            "queued": "tracing_spans_queued",
        }
        counts = {}
        for key, sample in series.items():
            found = re.search(rf"^{re.escape(sample)} (\S+)$", body, re.MULTILINE)
            counts[key] = float(found.group(1)) if found else float("nan")
        out[name] = counts
        log(f"{name}: " + ", ".join(f"{k} {v:.0f}" for k, v in counts.items()))
    if collector is not None:
        time.sleep(1)  # the last batches of the last round
        out["collector_spans"] = collector.spans_received()
        log(f"collector received {out['collector_spans']} spans in all")
    return out


def parse_metrics(text: str) -> dict:
    samples = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    families = {ln.split()[2] for ln in text.splitlines() if ln.startswith("# TYPE ")}
    http_samples = [ln for ln in samples if ln.startswith("http_")]
    return {"series": len(samples), "http_series": len(http_samples), "families": len(families)}


def scrape(port: int, repeats: int = 3) -> dict:
    durations, body = [], b""
    for _ in range(repeats):
        t0 = time.perf_counter()
        status, body = http_get(port, "/metrics", timeout=60)
        durations.append(time.perf_counter() - t0)
        if status != 200:
            raise RuntimeError(f"/metrics -> {status}")
    info = parse_metrics(body.decode())
    info["bytes"] = len(body)
    info["render_s"] = statistics.median(durations)
    return info


def flood_paths(port: int, start: int, count: int, seed: int) -> dict[int, int]:
    """GET `count` distinct random paths over one keep-alive connection; returns statuses."""
    rng = random.Random(seed + start)  # noqa: S311
    statuses: dict[int, int] = {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for i in range(start, start + count):
            path = f"/bench/{i}/{rng.getrandbits(64):016x}"
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
            if resp.will_close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    finally:
        conn.close()
    return statuses


def phase_cardinality(args, servers: dict[str, Server], log) -> dict:
    """Scrape /metrics before any unknown path, after the first few, and after all of them.

    The first unknown path may add series once (an `unmatched` label set); what must not
    happen is growth with the NUMBER of distinct paths, so independence is judged between
    the checkpoint and the end.
    """
    out = {}
    first = max(1, min(100, args.paths // 10))
    for name, srv in servers.items():
        if not SERVER_SPECS[name][2]:
            continue
        before = scrape(srv.port)
        rss_before = rss_kib(srv.pid)
        t0 = time.perf_counter()
        statuses = flood_paths(srv.port, 0, first, args.seed)
        checkpoint = scrape(srv.port)
        rest = flood_paths(srv.port, first, args.paths - first, args.seed)
        flood_s = time.perf_counter() - t0
        for code, n in rest.items():
            statuses[code] = statuses.get(code, 0) + n
        after = scrape(srv.port)
        rss_after = rss_kib(srv.pid)
        out[name] = {
            "before": before,
            "checkpoint": checkpoint,
            "checkpoint_paths": first,
            "after": after,
            "statuses": statuses,
            "flood_s": flood_s,
            "rss_before_kib": rss_before,
            "rss_after_kib": rss_after,
        }
        log(
            f"{name}: {args.paths} distinct paths in {flood_s:.1f}s -> series "
            f"{before['series']} -> {checkpoint['series']} (after {first}) -> "
            f"{after['series']}, /metrics {after['bytes']} bytes "
            f"in {after['render_s'] * 1000:.0f} ms, RSS {rss_before // 1024} -> "
            f"{rss_after // 1024} MiB"
        )
    return out


def _inspect(podman: str, ref: str) -> dict | None:
    res = subprocess.run(
        [podman, "image", "inspect", "--format", "{{.Size}} {{.Id}} {{.Created}}", ref],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if res.returncode != 0 or not res.stdout.strip():
        return None
    size, image_id, created = res.stdout.split(maxsplit=2)
    return {
        "status": "found",
        "ref": ref,
        "bytes": int(size),
        "id": image_id[:12],
        "created": created.strip(),
    }


def image_info(args) -> dict:
    """Size of the service image if one was built here (`make image`, or the image tests).

    Only reads podman's local store; never builds. Falls back from `--image` to the newest
    other tag of the same repository (the image tests build `localhost/production-api:test`
    from the same Dockerfile), skipping build-stage tags.
    """
    podman = shutil.which("podman")
    if not podman:
        return {"status": "not built: podman is not installed here"}
    found = _inspect(podman, args.image)
    if found:
        return found
    repo = args.image.rsplit(":", 1)[0]
    res = subprocess.run(
        [podman, "images", "--format", "{{.Repository}}:{{.Tag}}", repo],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    refs = [r for r in res.stdout.split() if r.startswith(repo + ":") and "builder" not in r]
    candidates = [f for f in (_inspect(podman, ref) for ref in refs) if f]
    if candidates:
        found = max(candidates, key=lambda f: f["created"])  # all in UTC: text order works
        found["note"] = f"{args.image} was not built; this is the newest {repo} image"
        return found
    return {"status": f"not built: no image {args.image} in podman's local store"}


# --------------------------------------------------------------------------- environment


def machine_info(out_dir: Path) -> dict:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    os_name = platform.platform()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    fs = "unknown"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        fs = subprocess.run(
            ["stat", "-f", "-c", "%T", str(out_dir)],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "memory": mem,
        "os": os_name,
        "kernel": platform.release(),
        "out_fs": fs,
    }


def versions(wrk: str) -> dict:
    pkgs = sorted(
        {(d.metadata["Name"], d.version) for d in importlib.metadata.distributions()},
        key=lambda kv: kv[0].lower(),
    )
    wrk_v = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    wrk_text = (wrk_v.stdout or wrk_v.stderr).strip()
    wrk_line = wrk_text.splitlines()[0] if wrk_text else "?"
    dpkg = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "wrk"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "python": sys.version.split()[0],
        "python_impl": platform.python_implementation(),
        "executable": sys.executable,
        "interpreter": interpreter_command(),
        "interpreter_env": interpreter_environment(),
        "packages": pkgs,
        "wrk": wrk_line.strip(),
        "wrk_deb": dpkg.stdout.strip() if dpkg.returncode == 0 else "",
    }


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# --------------------------------------------------------------------------- report


def med(values):
    return statistics.median(values) if values else float("nan")


def summarise(tp: dict) -> dict:
    summary: dict[str, dict[str, dict]] = {}
    for name, per_ep in tp.items():
        summary[name] = {}
        for label, runs in per_ep.items():
            if not runs:
                continue
            summary[name][label] = {
                "rps": med([r["rps"] for r in runs]),
                "p50_ms": med([r["p50_ms"] for r in runs]),
                "p99_ms": med([r["p99_ms"] for r in runs]),
                "rps_min": min(r["rps"] for r in runs),
                "rps_max": max(r["rps"] for r in runs),
                "core_share": med([r["core_share"] for r in runs]),
                "core_share_min": min(r["core_share"] for r in runs),
                "rps_cpu": med([r["rps_cpu"] for r in runs]),
                "errors": sum(r["non2xx"] + r["socket_errors"] for r in runs),
                "runs": len(runs),
            }
    return summary


def fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def _per_cpu(a: dict, b: dict, label: str) -> str:
    return fmt_ratio(a[label]["rps_cpu"] / b[label]["rps_cpu"] if b[label]["rps_cpu"] else None)


def evaluate(summary, startup, card, image, rss_load) -> list[tuple[str, str, str, str]]:
    rows = []
    prod, base, tut = (summary.get(n) for n in ("production-api", "baseline", "tutorial"))
    for label in ("/", "/items/{item_id}"):
        if prod and base and label in prod and label in base:
            r = prod[label]["rps"] / base[label]["rps"]
            rows.append(
                (
                    f"req/s vs baseline on `{label}`",
                    f">= {TARGETS['throughput_vs_baseline']:.2f}x",
                    f"{r:.2f}x ({_per_cpu(prod, base, label)} per CPU-s)",
                    verdict(r >= TARGETS["throughput_vs_baseline"]),
                )
            )
            c = prod[label]["rps_cpu"] / base[label]["rps_cpu"] if base[label]["rps_cpu"] else None
            rows.append(
                (
                    f"req per CPU-s vs baseline on `{label}`",
                    f">= {TARGETS['throughput_vs_baseline']:.2f}x",
                    fmt_ratio(c),
                    verdict(None if c is None else c >= TARGETS["throughput_vs_baseline"]),
                )
            )
            p = prod[label]["p99_ms"] / base[label]["p99_ms"]
            rows.append(
                (
                    f"p99 vs baseline on `{label}`",
                    f"<= {TARGETS['p99_vs_baseline']:.1f}x",
                    f"{p:.2f}x",
                    verdict(p <= TARGETS["p99_vs_baseline"]),
                )
            )
    for label in ENDPOINTS:
        if prod and tut and label in prod and label in tut:
            r = prod[label]["rps"] / tut[label]["rps"]
            rows.append(
                (
                    f"req/s vs tutorial on `{label}`",
                    f">= {TARGETS['throughput_vs_tutorial']:.1f}x",
                    f"{r:.2f}x ({_per_cpu(prod, tut, label)} per CPU-s)",
                    verdict(r >= TARGETS["throughput_vs_tutorial"]),
                )
            )
    if "production-api" in card:
        c = card["production-api"]
        same = c["after"]["series"] == c["checkpoint"]["series"]
        rows.append(
            (
                "/metrics series independent of distinct paths",
                "same after the first paths and after all",
                f"{c['checkpoint']['series']} after {c['checkpoint_paths']}, "
                f"{c['after']['series']} after {sum(c['statuses'].values()):,}",
                verdict(same),
            )
        )
    if startup.get("production-api") and startup.get("baseline"):
        r = med(startup["production-api"]) / med(startup["baseline"])
        rows.append(
            (
                "start-up vs baseline",
                f"<= {TARGETS['startup_vs_baseline']:.1f}x",
                f"{r:.2f}x",
                verdict(r <= TARGETS["startup_vs_baseline"]),
            )
        )
    rss = max(
        rss_load.get("production-api", 0), card.get("production-api", {}).get("rss_after_kib", 0)
    )
    if rss:
        mib = rss / 1024
        rows.append(
            (
                "RSS after load (max of after rounds / after path flood)",
                f"<= {TARGETS['rss_mib']:.0f} MiB",
                f"{mib:.1f} MiB",
                verdict(mib <= TARGETS["rss_mib"]),
            )
        )
    if image.get("status") == "found":
        mb = image["bytes"] / 1e6
        rows.append(
            (
                "image size",
                f"<= {TARGETS['image_mb']:.0f} MB",
                f"{mb:.1f} MB",
                verdict(mb <= TARGETS["image_mb"]),
            )
        )
    else:
        rows.append(("image size", f"<= {TARGETS['image_mb']:.0f} MB", image["status"], "n/a"))
    return rows


def render_tracing(ctx: dict, traced: list[str], w) -> None:
    a, summary = ctx["args"], ctx["summary"]
    default = summary["production-api"]
    w("## Tracing")
    w("")
    w(
        "production-api with tracing on against its default (tracing off), from the same "
        "rounds: each traced server exports its spans over OTLP/HTTP, in batches from its "
        "export thread (which shares the server's core), to a real OpenTelemetry Collector "
        f"(`otelcol-test` from ci/otelcol, debug exporter) pinned to CPU {a.load_cpu} with "
        "wrk. wrk sends no `traceparent`, so the ratio sampler decides alone. `/health` is a "
        "probe, not traced by default: its rows are what tracing costs a request without a "
        "span."
    )
    w("")
    w(
        "| endpoint | server | req/s (median) | p99 ms | req/s vs default | p99 vs default | "
        "req per CPU-s vs default |"
    )
    w("|---|---|---:|---:|---:|---:|---:|")
    for label in ENDPOINTS:
        if label not in default:
            continue
        for name in ["production-api", *traced]:
            s = summary[name].get(label)
            if not s:
                continue
            base = default[label]
            w(
                f"| `{label}` | {name} | {s['rps']:.0f} | {s['p99_ms']:.2f} | "
                f"{fmt_ratio(s['rps'] / base['rps'])} | "
                f"{fmt_ratio(s['p99_ms'] / base['p99_ms'])} | "
                f"{fmt_ratio(s['rps_cpu'] / base['rps_cpu'] if base['rps_cpu'] else None)} |"
            )
    w("")
    spans = ctx.get("tracing", {})
    for name in traced:
        counts = spans.get(name)
        if not counts:
            continue
        w(
            f"{name}, last round's process: {counts['exported']:,.0f} spans exported, "
            f"{counts['queue_full']:,.0f} dropped for a full queue, "
            f"{counts['export_failed']:,.0f} in failed exports, "
            f"{counts['queued']:,.0f} queued.  "
        )
    if "collector_spans" in spans:
        w(f"The collector received {spans['collector_spans']:,} spans over the whole run.")
    w("")


def render(ctx: dict) -> str:
    a = ctx["args"]
    summary = ctx["summary"]
    names = list(summary)
    L: list[str] = []
    w = L.append
    w("# Benchmark results")
    w("")
    w(
        f"Generated by `{ctx['command']}` on {ctx['date']} "
        f"(total {ctx['elapsed_s'] / 60:.1f} min{', QUICK smoke mode' if a.quick else ''})."
    )
    w("Numbers are medians of interleaved rounds; ratios are within this one run. Absolute")
    w("req/s depend on the machine; compare the ratios.")
    w("")
    w("## Targets")
    w("")
    w("| target | wanted | measured | |")
    w("|---|---|---|---|")
    for row in ctx["targets"]:
        w("| " + " | ".join(row) + " |")
    w("")
    w("## Throughput and latency")
    w("")
    w(
        f"`wrk --latency -c{a.connections} -t{a.threads} -d{a.duration}s` per server and "
        f"endpoint in each of {a.rounds} rounds. Every round starts fresh server processes, "
        f"warms each up with {a.warmup} requests per endpoint, then runs the endpoints one "
        f"after another with the server order shuffled (seed {a.seed}). Servers pinned to CPU "
        f"{a.server_cpu}, wrk to CPU {a.load_cpu}. Medians over rounds."
    )
    w("")
    w(
        "| endpoint | server | req/s (median) | min-max | p50 ms | p99 ms | vs baseline | "
        "vs ceiling | p99 vs baseline | core share | req per CPU-s | same, vs baseline | "
        "errors |"
    )
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label in ENDPOINTS:
        base = summary.get("baseline", {}).get(label)
        ceil = summary.get("ceiling", {}).get(label)
        for name in names:
            s = summary[name].get(label)
            if not s:
                continue
            vb = s["rps"] / base["rps"] if base else None
            vc = s["rps"] / ceil["rps"] if ceil else None
            pb = s["p99_ms"] / base["p99_ms"] if base else None
            cb = s["rps_cpu"] / base["rps_cpu"] if base and base["rps_cpu"] else None
            w(
                f"| `{label}` | {name} | {s['rps']:.0f} | {s['rps_min']:.0f}-{s['rps_max']:.0f} | "
                f"{s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {fmt_ratio(vb)} | {fmt_ratio(vc)} | "
                f"{fmt_ratio(pb)} | {s['core_share']:.2f} | {s['rps_cpu']:.0f} | "
                f"{fmt_ratio(cb)} | {s['errors']} |"
            )
    w("")
    w(
        "*core share*: CPU time the server process got divided by the wall time of its core "
        "during the run (1.00 = it had the core to itself and was CPU-bound). *req per "
        "CPU-s*: requests completed divided by the CPU time the server process used "
        "(utime+stime from /proc), i.e. its throughput per core-second actually received. "
        "*errors*: non-2xx responses plus socket errors reported by wrk, summed over rounds."
    )
    w("")
    spreads = [
        (s["rps_max"] - s["rps_min"]) / s["rps"]
        for per in summary.values()
        for s in per.values()
        if s["rps"] and s["runs"] > 2
    ]
    if spreads and max(spreads) > 0.25:
        w(
            f"Round-to-round spread (min-max over median) reached {max(spreads):.0%} in this "
            "run: the machine's speed varied while it ran (other work on the host, including "
            "on the vCPUs' sibling threads, which the core share cannot see). Medians of "
            "interleaved rounds damp this, but ratios from such a run carry a few percent "
            "of noise; a quiet machine gives a tighter verdict."
        )
        w("")
    shares = [s["core_share_min"] for per in summary.values() for s in per.values()]
    if shares and min(shares) < 0.9:
        w(
            f"**This run shared the machine with other work** (lowest core share "
            f"{min(shares):.2f}, load average {ctx['load_start']} at start): wall-clock req/s "
            "and especially p99 carry that noise. The per-CPU-second column is the steadier "
            "comparison; the targets above are judged on req/s as specified, so re-run on a "
            "quiet machine for the verdict."
        )
        w("")
    traced = [n for n in names if n in TRACED]
    if traced and "production-api" in summary:
        render_tracing(ctx, traced, w)
    w("## Start-up, memory, /metrics")
    w("")
    w(
        f"Start-up: time from spawning the process to the first 200 on `/health` (polled every "
        f"2 ms over a fresh connection), median of {a.rounds} (one per round; servers are "
        "started one after another in shuffled order, each round with fresh processes)."
    )
    w(
        f"RSS: `VmRSS` from `/proc/PID/status` of the last round's processes after their load "
        f"({len(a.endpoints)} x {a.duration} s of wrk plus warm-up), then after "
        f"{a.paths:,} GET requests to distinct random paths (`/bench/<n>/<random hex>`, all 404)."
    )
    w("")
    w(
        "| server | start-up ms (median) | min-max | vs baseline | RSS after load MiB | "
        "RSS after path flood MiB |"
    )
    w("|---|---:|---:|---:|---:|---:|")
    st = ctx["startup"]
    base_st = med(st["baseline"]) if st.get("baseline") else None
    for name in names:
        times = st.get(name) or []
        rss_load = ctx["rss_after_load"].get(name)
        rss_flood = ctx["cardinality"].get(name, {}).get("rss_after_kib")
        w(
            f"| {name} | {med(times) * 1000:.0f} | "
            f"{min(times) * 1000:.0f}-{max(times) * 1000:.0f} | "
            f"{fmt_ratio(med(times) / base_st if base_st else None)} | "
            f"{rss_load / 1024:.1f} | "
            f"{f'{rss_flood / 1024:.1f}' if rss_flood else '-'} |"
            if times
            else f"| {name} | - | - | - | {rss_load / 1024:.1f} | - |"
        )
    w("")
    first_n = next((c["checkpoint_paths"] for c in ctx["cardinality"].values()), 0)
    w(
        f"`/metrics` with no unknown path yet, after the first {first_n} distinct unknown "
        f"paths, and after all {a.paths:,} (series = sample lines; render = median of 3 "
        "scrapes, client-side wall time):"
    )
    w("")
    w(
        f"| server | series before | series after {first_n} | series after {a.paths:,} | "
        f"`http_*` series after {a.paths:,} | page bytes before | page bytes after | "
        "render ms after | flood responses |"
    )
    w("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, c in ctx["cardinality"].items():
        w(
            f"| {name} | {c['before']['series']} | {c['checkpoint']['series']} | "
            f"{c['after']['series']} | {c['after']['http_series']} | "
            f"{c['before']['bytes']:,} | {c['after']['bytes']:,} | "
            f"{c['after']['render_s'] * 1000:.1f} | "
            + ", ".join(f"{k}: {v}" for k, v in sorted(c["statuses"].items()))
            + " |"
        )
    w("")
    w("## Image")
    w("")
    img = ctx["image"]
    if img.get("status") == "found":
        w(
            f"`podman image inspect {img['ref']}`: {img['bytes']:,} bytes "
            f"({img['bytes'] / 1e6:.1f} MB), id {img['id']}, created {img['created']}."
            + (f" ({img['note']}.)" if img.get("note") else "")
        )
    else:
        w(
            f"Image size: {img['status']}. (The harness only reads `podman image inspect "
            f"{a.image}`; `make image` builds it.)"
        )
    w("")
    w("## Servers and exact commands")
    w("")
    w(
        "Each server is one uvicorn worker (uvloop + httptools, as installed by "
        "`uvicorn[standard]`), started with the venv's interpreter directly from the "
        "repository root (the interpreter: see Machine and software):"
    )
    w("")
    for name in names:
        desc = SERVER_SPECS[name][0]
        cmd = " ".join(ctx["commands"][name])
        w(f"- **{name}** — {desc}:  ")
        w(f"  `{cmd}`")
    w("")
    w(
        "production-api runs with no app environment variables other than HOST/PORT, i.e. "
        "its defaults (APP_ENV=development, LOG_FORMAT=json, LOG_LEVEL=info, metrics on). "
        "Its stdout (one JSON access-log line per request except probes and /metrics) "
        f"goes to a regular file, `{ctx['prod_log']}` (filesystem: "
        f"{ctx['machine']['out_fs']}), as a deployment writes logs somewhere; it is "
        "neither discarded nor sent to a terminal. The baselines run with "
        "`--no-access-log`. Every server gets `PYTHONUNBUFFERED=1` (as the image's Dockerfile "
        "sets it) and no other PYTHON* variable; `app/` and `bench/servers/` are "
        "byte-compiled before the first start."
    )
    w("")
    src = "production-api" if "production-api" in ctx["bodies"] else next(iter(ctx["bodies"]))
    w(f"Response bodies as {src} answers them (every server answers every endpoint with 200):")
    w("")
    for label in ENDPOINTS:
        body = ctx["bodies"][src].get(label, "")
        w(f"- `GET {ENDPOINTS[label]}` -> `{body[:200]}`")
    w("")
    w("Load generator, per run:  ")
    w(f"`{' '.join(ctx['wrk_cmd'])}`")
    w("")
    w(
        "How the costs were found and what changed in the service for them: "
        "[bench/PROFILE.md](PROFILE.md)."
    )
    w("")
    w("## Machine and software")
    w("")
    m, v = ctx["machine"], ctx["versions"]
    w(f"- CPU: {m['cpu_model']}, {m['cores']} cores; memory {m['memory']}")
    w(f"- OS: {m['os']}, kernel {m['kernel']}")
    w(f"- Load average (1/5/15 min) at start: {ctx['load_start']}; at end: {ctx['load_end']}")
    w(
        f"- Python {v['python']} ({v['python_impl']}), run as `{v['interpreter']}`"
        + (f"; {v['interpreter_env']}" if v["interpreter_env"] else "")
    )
    w(f"- wrk: {v['wrk']}" + (f" (Debian package {v['wrk_deb']})" if v["wrk_deb"] else ""))
    w("")
    w("Every package installed in the interpreter's environment:")
    w("")
    w("| package | version |")
    w("|---|---|")
    for pkg, ver in v["packages"]:
        w(f"| {pkg} | {ver} |")
    w("")
    w("## How to reproduce")
    w("")
    w(
        "`make bench` (runs `bench/run.sh`: installs wrk with apt if missing, then "
        "`python bench/bench.py`). Raw per-round numbers: `bench/out/results.json`; "
        "server logs: `bench/out/`. `python bench/bench.py --help` lists the knobs "
        "(rounds, duration, CPUs, paths); `--quick` is the smoke mode used by "
        "`tests/bench/`."
    )
    w("")
    return "\n".join(L)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke mode: 1 round of 1 s runs, 20 warm-up requests, 300 paths",
    )
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    p.add_argument(
        "--warmup", type=int, default=500, help="warm-up requests per endpoint per fresh server"
    )
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=1, help="wrk threads (one core -> 1)")
    p.add_argument("--paths", type=int, default=10_000, help="distinct paths for the flood")
    p.add_argument(
        "--endpoints",
        default=",".join(ENDPOINTS),
        help="comma-separated subset of: " + ", ".join(ENDPOINTS),
    )
    p.add_argument(
        "--servers",
        default=",".join(SERVER_SPECS),
        help="comma-separated subset of: " + ", ".join(SERVER_SPECS),
    )
    p.add_argument("--server-cpu", type=int, default=None, help="default: 1 (0 if one core)")
    p.add_argument("--load-cpu", type=int, default=None, help="default: 0")
    p.add_argument("--no-pin", action="store_true", help="do not use taskset")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--image",
        default="localhost/production-api:dev",
        help="image to read the size of with `podman image inspect` (`make image` builds it)",
    )
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    p.add_argument("--output", type=Path, default=REPO_ROOT / "bench" / "RESULTS.md")
    p.add_argument(
        "--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="logs and raw JSON results"
    )
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.warmup, args.paths = 1, 1, 20, 300
    if args.no_pin or not shutil.which("taskset"):
        args.server_cpu = args.load_cpu = None
    else:
        cores = sorted(os.sched_getaffinity(0))
        if args.server_cpu is None:
            args.server_cpu = cores[1] if len(cores) > 1 else cores[0]
        if args.load_cpu is None:
            args.load_cpu = cores[0]
    labels = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    if set(labels) - set(ENDPOINTS):
        p.error(f"unknown endpoint(s): {', '.join(sorted(set(labels) - set(ENDPOINTS)))}")
    args.endpoints = {e: ENDPOINTS[e] for e in labels}
    args.server_names = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(args.server_names) - set(SERVER_SPECS)
    if unknown:
        p.error(f"unknown server(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not shutil.which(args.wrk):
        print(f"wrk not found ({args.wrk}); `make bench` installs it", file=sys.stderr)
        return 2
    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.log"):
        old.unlink()
    t_start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t_start:6.1f}s] {msg}", flush=True)

    if args.load_cpu is not None:
        # The harness itself (pollers, flood client) stays off the server core as well.
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {args.load_cpu})

    prod_log = out_dir / "production-api.stdout.log"
    with contextlib.suppress(ValueError):
        prod_log = prod_log.resolve().relative_to(REPO_ROOT)
    ctx: dict = {
        "prod_log": str(prod_log),
        "args": args,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": " ".join(
            [
                "make bench (bench/run.sh)"
                if os.environ.get("BENCH_VIA_MAKE")
                else "python bench/bench.py"
            ]
            + (sys.argv[1:] if argv is None else argv)
        ),
        "load_start": loadavg(),
        "machine": machine_info(out_dir),
        "versions": versions(args.wrk),
    }
    log(
        f"machine: {ctx['machine']['cores']} cores, {ctx['machine']['cpu_model']}; "
        f"load {ctx['load_start']}"
    )

    ctx["wrk_cmd"] = wrk_argv(args, "http://127.0.0.1:PORT/PATH", args.duration)
    # Byte-compile once up front (as the image build does), so no start-up pays for it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "app", SERVERS_DIR],
        cwd=REPO_ROOT,
        env=env,
        check=False,
        timeout=120,
        stdout=subprocess.DEVNULL,
    )
    servers: dict[str, Server] = {}
    args.collector = None
    if any(name in TRACED for name in args.server_names):
        args.collector = start_collector(args, out_dir)
        log(f"collector (otelcol-test) on {args.collector.endpoint}")
    try:
        servers = phase_rounds(args, out_dir, ctx, log)
        ctx["summary"] = summarise(ctx["raw_throughput"])
        ctx["rss_after_load"] = {n: rss_kib(s.pid) for n, s in servers.items()}
        log(
            "RSS after load: "
            + ", ".join(f"{n} {v / 1024:.1f} MiB" for n, v in ctx["rss_after_load"].items())
        )
        ctx["cardinality"] = phase_cardinality(args, servers, log)
        ctx["tracing"] = phase_tracing(servers, args.collector, log)
    finally:
        for srv in servers.values():
            srv.kill()
        if args.collector is not None:
            args.collector.stop()

    ctx["image"] = image_info(args)
    ctx["targets"] = evaluate(
        ctx["summary"], ctx["startup"], ctx["cardinality"], ctx["image"], ctx["rss_after_load"]
    )
    ctx["load_end"] = loadavg()
    ctx["elapsed_s"] = time.perf_counter() - t_start

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(ctx))
    raw = {k: v for k, v in ctx.items() if k not in ("args",)}
    raw["args"] = {
        k: (str(v) if isinstance(v, Path | Collector) else v) for k, v in vars(args).items()
    }
    (out_dir / "results.json").write_text(json.dumps(raw, indent=1, default=str))
    log(f"wrote {args.output}")
    for row in ctx["targets"]:
        log(" | ".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
