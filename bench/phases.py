"""The benchmark's phases, in the order bench.py runs them: interleaved rounds of fresh servers
under wrk (start-up, throughput, latency), what the traced servers exported, and the /metrics
cardinality under a flood of distinct unknown paths."""

from __future__ import annotations

import argparse
import http.client
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from collector import Collector
from harness import (
    AUTHENTICATED,
    ENDPOINTS,
    SECURED,
    SERVER_SPECS,
    TRACED,
    ZERO_CODE,
    Server,
    display_argv,
    http_get,
    make_server,
    request_headers,
    rss_kib,
    spawn,
    wait_healthy,
)
from load import run_wrk

Log = Callable[[str], None]


def check_responses(
    servers: dict[str, Server], args: argparse.Namespace
) -> dict[str, dict[str, str]]:
    """One GET per endpoint per server: every endpoint must answer 200 JSON."""
    bodies: dict[str, dict[str, str]] = {}
    for name, srv in servers.items():
        bodies[name] = {}
        for label, path in ENDPOINTS.items():
            status, body = http_get(srv.port, path, headers=request_headers(name, args))
            if status != 200:
                raise RuntimeError(f"{name} GET {path} -> {status}: {body[:200]!r}")
            bodies[name][label] = body.decode(errors="replace")
    return bodies


def warm_up(server: Server, paths: Iterable[str], count: int, headers: dict[str, str]) -> None:
    """`count` keep-alive GETs per path, so the first timed run does not pay for cold caches."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for path in paths:
            for _ in range(count):
                conn.request("GET", path, headers=headers)
                conn.getresponse().read()
    finally:
        conn.close()


def command_line(name: str, server: Server) -> list[str]:
    """A server's command as the report shows it, its app variables in front."""
    if name in TRACED:
        env = [f"{k}={v}" for k, v in TRACED[name].items()]
        env.append("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$COLLECTOR_PORT")
        return ["HOST=127.0.0.1", "PORT=$PORT", *env, *display_argv(server.argv, server.port)]
    if name in SECURED:
        env = [f"{k}={v}" for k, v in SECURED[name].items()]
        if name == AUTHENTICATED:
            env.append("AUTH_ISSUER=http://127.0.0.1:$DEX_PORT/dex")
        return ["HOST=127.0.0.1", "PORT=$PORT", *env, *display_argv(server.argv, server.port)]
    if name in ZERO_CODE:
        env = [f"{k}={v}" for k, v in ZERO_CODE[name].items()]
        env.append("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$COLLECTOR_PORT")
        return [*env, *display_argv(server.argv, server.port)]
    prefix = ["HOST=127.0.0.1", "PORT=$PORT"] if name == "production-api" else []
    return prefix + display_argv(server.argv, server.port)


def phase_rounds(
    args: argparse.Namespace, out_dir: Path, ctx: dict[str, Any], log: Log
) -> dict[str, Server]:
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
                ctx["bodies"] = check_responses(servers, args)
            for name, srv in servers.items():
                warm_up(srv, args.endpoints.values(), args.warmup, request_headers(name, args))
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


def phase_tracing(servers: dict[str, Server], collector: Collector | None, log: Log) -> dict:
    """What the last round's traced servers report about their spans, and what the collector
    received over the whole run."""
    out: dict[str, Any] = {}
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


def parse_metrics(text: str) -> dict[str, int]:
    samples = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    families = {ln.split()[2] for ln in text.splitlines() if ln.startswith("# TYPE ")}
    http_samples = [ln for ln in samples if ln.startswith("http_")]
    return {"series": len(samples), "http_series": len(http_samples), "families": len(families)}


def scrape(port: int, repeats: int = 3) -> dict[str, Any]:
    durations, body = [], b""
    for _ in range(repeats):
        t0 = time.perf_counter()
        status, body = http_get(port, "/metrics", timeout=60)
        durations.append(time.perf_counter() - t0)
        if status != 200:
            raise RuntimeError(f"/metrics -> {status}")
    info: dict[str, Any] = dict(parse_metrics(body.decode()))
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


def phase_cardinality(args: argparse.Namespace, servers: dict[str, Server], log: Log) -> dict:
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
