"""Graceful shutdown of the real server: drain, finish in-flight requests, exit 0.

In-flight requests are made long-running without any test-only route: readiness is pointed
at a local HTTP dependency that answers slowly, so `/readiness` requests stay open across
the drain and into uvicorn's graceful shutdown.
"""

from __future__ import annotations

import http.client
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

StartApp = Callable[..., Any]

DRAIN = 1.5
TIMEOUT = 8.0
DEPENDENCY_DELAY = 3.0
MARGIN = 5.0
SLOW_REQUESTS = 10
HAMMERS = 4


@pytest.fixture
def slow_dependency() -> Iterator[str]:
    """A local HTTP server that answers 200 after DEPENDENCY_DELAY seconds."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(DEPENDENCY_DELAY)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/slow"
    server.shutdown()
    server.server_close()


def _get(port: int, path: str, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        headers = {key.lower(): value for key, value in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        conn.close()


def _in_progress(port: int) -> float:
    _, _, body = _get(port, "/metrics", timeout=5)
    match = re.search(rb"^http_requests_in_progress (\S+)$", body, re.MULTILINE)
    assert match is not None
    return float(match.group(1))


def _hammer(port: int, stop: threading.Event, results: list[tuple[float, object]]) -> None:
    """Keep-alive client: GET /items/n in a loop, recording (start time, status or error)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    n = 0
    while not stop.is_set():
        n += 1
        started = time.monotonic()
        try:
            conn.request("GET", f"/items/{n}")
            response = conn.getresponse()
            response.read()
            results.append((started, response.status))
        except OSError as exc:
            results.append((started, exc))
            conn.close()
            time.sleep(0.01)
    conn.close()


def test_sigterm_drains_finishes_in_flight_requests_and_exits_0(
    start_app: StartApp, slow_dependency: str
) -> None:
    proc = start_app(
        SHUTDOWN_DRAIN_SECONDS=DRAIN,
        SHUTDOWN_TIMEOUT_SECONDS=TIMEOUT,
        READINESS_DEPENDENCIES=slow_dependency,
        READINESS_TIMEOUT_SECONDS=DEPENDENCY_DELAY + TIMEOUT,
        READINESS_CACHE_SECONDS=0,
    )
    port = proc.port
    stop_hammers = threading.Event()
    hammer_results: list[list[tuple[float, object]]] = [[] for _ in range(HAMMERS)]
    with ThreadPoolExecutor(max_workers=SLOW_REQUESTS + HAMMERS) as pool:
        hammers = [pool.submit(_hammer, port, stop_hammers, results) for results in hammer_results]
        slow: list[Future[tuple[int, dict[str, str], bytes]]] = [
            pool.submit(_get, port, "/readiness") for _ in range(SLOW_REQUESTS)
        ]
        # Every slow request is inside the app (counted in progress) before the stop.
        deadline = time.monotonic() + 20
        while _in_progress(port) < SLOW_REQUESTS + 1:
            assert time.monotonic() < deadline, "slow requests never reached the app"
            time.sleep(0.05)

        stopped_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)

        # During the drain: not ready, still alive, still serving, telling clients to leave.
        # The flip is immediate; polling only absorbs the signal's delivery to the process.
        status, headers, body = _get(port, "/readiness", timeout=5)
        while status != 503 and time.monotonic() < stopped_at + DRAIN / 2:
            status, headers, body = _get(port, "/readiness", timeout=5)
        assert status == 503
        assert b'"reason":"shutting down"' in body
        assert headers["connection"] == "close"
        assert _get(port, "/health", timeout=5)[0] == 200
        status, headers, _ = _get(port, "/", timeout=5)
        assert (status, headers["connection"]) == (200, "close")

        exit_code = proc.wait(timeout=DRAIN + TIMEOUT + MARGIN)
        exited_at = time.monotonic()
        stop_hammers.set()
        for hammer in hammers:
            hammer.result(timeout=30)

        # Requests in flight when the server stopped accepting all completed with 200.
        for future in slow:
            status, headers, body = future.result(timeout=30)
            assert status == 200, body
            assert b'"status":"ready"' in body
            assert headers["connection"] == "close"

    assert exit_code == 0
    assert exited_at - stopped_at >= DRAIN
    before_stop = [r for results in hammer_results for (t, r) in results if t < stopped_at]
    assert before_stop
    assert all(result == 200 for result in before_stop), before_stop[-5:]
    during_drain = [
        r for results in hammer_results for (t, r) in results if stopped_at <= t < stopped_at + 1
    ]
    assert during_drain
    assert all(result == 200 for result in during_drain)

    records = proc.json_lines()
    messages = [r["message"] for r in records]
    assert "stop requested, draining" in messages
    assert "drain finished, shutting down" in messages
    assert messages[-1].startswith("Finished server process")
    assert not [r for r in records if r["level"] in ("error", "critical")]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_exits_0_not_128_plus_signal(start_app: StartApp, sig: int) -> None:
    proc = start_app(SHUTDOWN_DRAIN_SECONDS=0.2, SHUTDOWN_TIMEOUT_SECONDS=2)
    assert proc.get("/")[0] == 200
    assert proc.stop(sig, timeout=15) == 0
    (drain,) = [r for r in proc.json_lines() if r["message"] == "stop requested, draining"]
    assert drain["signal"] == signal.Signals(sig).name
    assert drain["drain_seconds"] == 0.2


def test_second_signal_ends_the_drain_early(start_app: StartApp) -> None:
    proc = start_app(SHUTDOWN_DRAIN_SECONDS=60, SHUTDOWN_TIMEOUT_SECONDS=2)
    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _get(proc.port, "/readiness", timeout=5)[0] != 503:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


def _read_head(reader: Any) -> tuple[int, dict[str, str]]:
    status_line = reader.readline()
    assert status_line, "the server closed the connection without answering"
    status = int(status_line.split()[1])
    headers = {}
    while (line := reader.readline().decode("latin-1").strip()) != "":
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


def test_request_arriving_as_the_listener_closes_is_answered(start_app: StartApp) -> None:
    """A keep-alive connection idle through the drain sends its next request just after the
    server stopped accepting: the request is read and answered (`Connection: close`), not
    dropped with the idle connections."""
    proc = start_app(SHUTDOWN_DRAIN_SECONDS=0.5, SHUTDOWN_TIMEOUT_SECONDS=2)
    request = b"GET /items/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", proc.port), timeout=10) as held:
        reader = held.makefile("rb")
        held.sendall(request)
        status, headers = _read_head(reader)
        reader.read(int(headers["content-length"]))
        assert status == 200
        assert headers.get("connection") != "close"

        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while True:  # until the listener is closed
            assert time.monotonic() < deadline, "the server never stopped accepting"
            try:
                socket.create_connection(("127.0.0.1", proc.port), timeout=1).close()
            except ConnectionRefusedError:
                break
            time.sleep(0.002)
        held.sendall(request)
        status, headers = _read_head(reader)
        body = reader.read()  # to EOF: the server closes the connection after this response
    assert status == 200, body
    assert headers["connection"] == "close"
    assert len(body) == int(headers["content-length"])
    assert proc.wait(timeout=15) == 0
