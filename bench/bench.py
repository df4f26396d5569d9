"""Side-by-side benchmark of production-api against a raw ASGI ceiling, a bare FastAPI
baseline and the tutorial-style metrics middleware, and of production-api with tracing on
(ratio samplers 1.0 and 0.1, exporting to a real OpenTelemetry Collector) against its default
and against the bare app under the zero-code OpenTelemetry instrumentation, and with
authentication on (a real Dex token on every request) and with rate limiting on, against its
default.

Every server is ONE uvicorn worker pinned to one core; wrk is pinned to the other core. All
traffic goes to 127.0.0.1 on ports the OS hands out. Rounds are interleaved across servers
(shuffled order per round) and the tables report medians, so a noisy neighbour hurts every
server alike instead of one of them.

Usage (from the repository root, with the project's venv Python):
    python bench/bench.py                 # full run, writes bench/RESULTS.md (< 10 min)
    python bench/bench.py --quick --output /tmp/r.md   # smoke run, a few seconds per phase
Normally started by `make bench` (bench/run.sh), which installs wrk first.

This file is the entry point (arguments, the run's order, results.json); beside it:
harness.py (the servers and their processes), collector.py (the OpenTelemetry Collector),
auth.py (the Dex issuer, and what verifying a token costs in process),
load.py (wrk), phases.py (rounds, tracing, /metrics cardinality), environment.py (machine,
software, image), summary.py (medians and targets), report.py and report_setup.py (RESULTS.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from auth import phase_verify_cost, start_issuer
from collector import Collector, start_collector
from environment import image_info, loadavg, machine_info, versions
from harness import (
    AUTHENTICATED,
    ENDPOINTS,
    REPO_ROOT,
    SERVER_SPECS,
    SERVERS_DIR,
    TRACED,
    ZERO_CODE,
    Server,
    rss_kib,
)
from load import wrk_argv
from phases import phase_cardinality, phase_rounds, phase_tracing
from report import render
from summary import evaluate, summarise

from tests.support.tools import find_tool

DEFAULT_OUT_DIR = REPO_ROOT / "bench" / "out"


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
    p.add_argument("--wrk", default=find_tool("wrk") or "wrk")
    p.add_argument("--output", type=Path, default=REPO_ROOT / "bench" / "RESULTS.md")
    p.add_argument(
        "--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="logs and raw JSON results"
    )
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.warmup, args.paths = 1, 1, 20, 300
    if args.no_pin or not find_tool("taskset"):
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
    if not find_tool(args.wrk):
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
    if any(name in TRACED or name in ZERO_CODE for name in args.server_names):
        args.collector = start_collector(args, out_dir)
        log(f"collector (otelcol-test) on {args.collector.endpoint}")
    args.dex, args.token = None, ""
    if AUTHENTICATED in args.server_names:
        args.dex, args.token = start_issuer(out_dir)
        log(f"issuer (dex-test) at {args.dex.issuer}")
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
        if args.dex is not None:
            ctx["verify_cost"] = phase_verify_cost(args.dex.issuer, args.token)
            log(
                "token check in process: {verify_us:.1f} us with the signature, "
                "{cached_us:.1f} us from the cache".format(**ctx["verify_cost"])
            )
    finally:
        for srv in servers.values():
            srv.kill()
        if args.collector is not None:
            args.collector.stop()
        if args.dex is not None:
            args.dex.stop()

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
        k: (str(v) if isinstance(v, Path | Collector) else v)
        for k, v in vars(args).items()
        if k not in ("dex", "token")
    }
    (out_dir / "results.json").write_text(json.dumps(raw, indent=1, default=str))
    log(f"wrote {args.output}")
    for row in ctx["targets"]:
        log(" | ".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
