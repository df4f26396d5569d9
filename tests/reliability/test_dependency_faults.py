"""Readiness under dependency faults: refusing, timing out, slow, flapping, recovering.

The dependencies are real loopback servers (tests/reliability/_support/depservers.py) whose
behaviour is switched during the test; the app is a real `python -m app` process.
Goal: readiness 503 within the configured timeout, liveness 200 throughout, readiness
recovering on its own, and a probe storm costing at most one check per dependency per cache
interval.
"""

from __future__ import annotations

import concurrent.futures
import json
import math
import time

from ._support.depservers import FaultServer, refusing_port, wait_for
from ._support.storm import storm

TIMEOUT = 1.0
# Slack for process scheduling on a busy CI machine; the timeout itself is what is checked.
SLACK = 1.5


def timed_get(app, path: str) -> tuple[int, float, dict]:
    start = time.monotonic()
    status, body = app.get(path, timeout=TIMEOUT + 10)
    return status, time.monotonic() - start, json.loads(body or b"{}")


def test_refusing_dependency_makes_readiness_503_fast(start_app, figures):
    port = refusing_port()
    app = start_app(
        READINESS_DEPENDENCIES=f"tcp://127.0.0.1:{port}",
        READINESS_TIMEOUT_SECONDS=TIMEOUT,
        READINESS_CACHE_SECONDS=0,
    )
    status, elapsed, body = timed_get(app, "/readiness")
    assert status == 503, body
    assert body["status"] == "not_ready"
    assert elapsed < TIMEOUT + SLACK
    assert app.get("/health")[0] == 200
    figures.setdefault("dependencies", {})["refusing"] = {
        "readiness": status,
        "readiness_seconds": round(elapsed, 3),
        "liveness": 200,
    }


def test_timing_out_dependency_is_cut_at_the_timeout(start_app, figures):
    with FaultServer("hang") as dep:
        app = start_app(
            READINESS_DEPENDENCIES=dep.http_url,
            READINESS_TIMEOUT_SECONDS=TIMEOUT,
            READINESS_CACHE_SECONDS=0,
        )
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(timed_get, app, "/readiness")
            time.sleep(TIMEOUT / 4)
            # Liveness answers while the readiness check is stuck on the dependency.
            live_start = time.monotonic()
            live_status = app.get("/health", timeout=5)[0]
            live_seconds = time.monotonic() - live_start
            status, elapsed, body = pending.result(timeout=TIMEOUT + 15)
    assert status == 503, body
    assert elapsed >= TIMEOUT * 0.9, "503 came before the timeout: the hang was not waited for"
    assert elapsed < TIMEOUT + SLACK
    assert live_status == 200
    figures.setdefault("dependencies", {})["timing_out"] = {
        "readiness": status,
        "readiness_seconds": round(elapsed, 3),
        "timeout_seconds": TIMEOUT,
        "liveness": live_status,
        "liveness_seconds_during_check": round(live_seconds, 3),
    }


def test_slow_dependency_within_and_beyond_the_timeout(start_app, figures):
    with FaultServer("slow", delay=0.3) as fast_enough, FaultServer("slow", delay=5) as too_slow:
        app = start_app(
            READINESS_DEPENDENCIES=fast_enough.http_url,
            READINESS_TIMEOUT_SECONDS=TIMEOUT,
            READINESS_CACHE_SECONDS=0,
        )
        ok_status, ok_elapsed, ok_body = timed_get(app, "/readiness")
        app2 = start_app(
            READINESS_DEPENDENCIES=too_slow.http_url,
            READINESS_TIMEOUT_SECONDS=TIMEOUT,
            READINESS_CACHE_SECONDS=0,
        )
        bad_status, bad_elapsed, bad_body = timed_get(app2, "/readiness")
        live = (app.get("/health")[0], app2.get("/health")[0])
    assert ok_status == 200, ok_body
    assert bad_status == 503, bad_body
    assert bad_elapsed < TIMEOUT + SLACK
    assert live == (200, 200)
    figures.setdefault("dependencies", {})["slow"] = {
        "delay_0.3s_readiness": ok_status,
        "delay_0.3s_seconds": round(ok_elapsed, 3),
        "delay_5s_readiness": bad_status,
        "delay_5s_seconds": round(bad_elapsed, 3),
        "liveness": 200,
    }


def test_flapping_dependency_is_followed_and_liveness_holds(start_app, figures):
    cache = 0.2
    with FaultServer("ok") as dep:
        app = start_app(
            READINESS_DEPENDENCIES=dep.http_url,
            READINESS_TIMEOUT_SECONDS=TIMEOUT,
            READINESS_CACHE_SECONDS=cache,
        )
        seen: dict[str, list[int]] = {"ok": [], "drop": []}
        liveness: list[int] = []
        flips = 0
        for mode in ["ok", "drop"] * 4:
            dep.mode = mode
            flips += 1
            phase_end = time.monotonic() + 0.8
            time.sleep(cache + 0.05)  # results cached before the flip may still be served
            while time.monotonic() < phase_end:
                seen[mode].append(app.get("/readiness", timeout=TIMEOUT + 10)[0])
                liveness.append(app.get("/health")[0])
                time.sleep(0.05)
    assert set(liveness) == {200}
    assert set(seen["ok"]) == {200}, seen["ok"]
    assert set(seen["drop"]) == {503}, seen["drop"]
    figures.setdefault("dependencies", {})["flapping"] = {
        "flips": flips,
        "readiness_calls": len(seen["ok"]) + len(seen["drop"]),
        "readiness_wrong": 0,
        "liveness_calls": len(liveness),
        "liveness_not_200": 0,
    }


def test_recovering_dependency_brings_readiness_back_without_restart(start_app, figures):
    cache = 0.5
    port = refusing_port()
    app = start_app(
        READINESS_DEPENDENCIES=f"tcp://127.0.0.1:{port}",
        READINESS_TIMEOUT_SECONDS=TIMEOUT,
        READINESS_CACHE_SECONDS=cache,
    )
    assert app.get("/readiness")[0] == 503
    pid = app.pid
    with FaultServer("ok", port=port):
        up_at = time.monotonic()
        recovered = wait_for(lambda: app.get("/readiness")[0] == 200, timeout=cache + TIMEOUT + 10)
        recovery = time.monotonic() - up_at
    assert recovered, "readiness did not recover after the dependency came back"
    assert app.alive()
    assert app.pid == pid
    assert recovery < cache + TIMEOUT + SLACK
    figures.setdefault("dependencies", {})["recovering"] = {
        "recovery_seconds": round(recovery, 3),
        "cache_seconds": cache,
        "restarts": 0,
    }


def test_probe_storm_costs_one_check_per_dependency_per_cache_interval(start_app, figures):
    cache = 2.0
    calls = 500
    with FaultServer("ok") as tcp_dep, FaultServer("slow", delay=0.5) as http_dep:
        app = start_app(
            READINESS_DEPENDENCIES=f"{tcp_dep.tcp_url},{http_dep.http_url}",
            READINESS_TIMEOUT_SECONDS=TIMEOUT,
            READINESS_CACHE_SECONDS=cache,
        )
        tcp_dep.reset_count()
        http_dep.reset_count()
        start = time.monotonic()
        statuses = storm(app.port, "/readiness", calls)
        elapsed = time.monotonic() - start
        checks = {"tcp": tcp_dep.connections, "http": http_dep.connections}
        live = app.get("/health")[0]
    allowed = 1 + math.floor(elapsed / cache)
    assert statuses.count(200) == calls, {s: statuses.count(s) for s in set(statuses)}
    assert checks["tcp"] <= allowed, checks
    assert checks["http"] <= allowed, checks
    assert checks["tcp"] >= 1
    assert checks["http"] >= 1
    assert live == 200
    figures.setdefault("dependencies", {})["probe_storm"] = {
        "concurrent_calls": calls,
        "answered_200": statuses.count(200),
        "storm_seconds": round(elapsed, 3),
        "cache_seconds": cache,
        "checks_allowed": allowed,
        "checks_tcp": checks["tcp"],
        "checks_http": checks["http"],
    }
