"""Readiness dependency checks against real local TCP/HTTP servers on 127.0.0.1.

Covers: concurrent checks, per-check timeout, caching, and single-flight (a probe storm
contacts each dependency at most once per cache interval).
Over 250 lines because its cases share the local dependency servers and read as one table.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi import FastAPI

pytestmark = pytest.mark.anyio

AppFactory = Callable[..., FastAPI]
Serve = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@dataclass
class CountingTcpServer:
    """Accepts and closes connections on 127.0.0.1, counting them."""

    sock: socket.socket
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def target(self) -> str:
        return f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"

    def settled_count(self, expected: int, timeout: float = 5.0) -> int:
        """Connections counted once `expected` were accepted (or `timeout` passed).

        A check's connect completes in the kernel before this server's thread accepts it,
        so the count can lag the readiness response; a short settle catches any extras.
        """
        deadline = time.monotonic() + timeout
        while self.connections < expected and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        return self.connections

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            conn.close()


@pytest.fixture
def tcp_server() -> Iterator[CountingTcpServer]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    server = CountingTcpServer(sock)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    yield server
    # shutdown() wakes the thread blocked in accept(); close() alone does not on Linux.
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    thread.join(timeout=5)


@dataclass
class HttpDependency:
    url: str
    requests: list[str]


@pytest.fixture
def http_dependency() -> Iterator[Callable[..., HttpDependency]]:
    """`http_dependency(status=200, delay=0.0, barrier=None)` -> a local HTTP server.

    The handler sleeps `delay`, then waits on `barrier` (if any; a broken barrier answers
    500), then answers `status`.
    """
    servers: list[ThreadingHTTPServer] = []

    def start(
        status: int = 200, delay: float = 0.0, barrier: threading.Barrier | None = None
    ) -> HttpDependency:
        requests: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                time.sleep(delay)
                code = status
                if barrier is not None:
                    try:
                        barrier.wait(timeout=5)
                    except threading.BrokenBarrierError:
                        code = 500
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return HttpDependency(f"http://127.0.0.1:{server.server_address[1]}/healthz", requests)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) but never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def closed_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()  # nothing listens here any more: connections are refused
    return port


async def test_probe_storm_checks_each_dependency_once_per_interval(
    serve: Serve, app_factory: AppFactory, tcp_server: CountingTcpServer
) -> None:
    app = app_factory(readiness_dependencies=(tcp_server.target,), readiness_cache_seconds=300)
    async with serve(app) as client:
        responses = await asyncio.gather(*(client.get("/readiness") for _ in range(200)))
    assert {response.status_code for response in responses} == {200}
    assert tcp_server.settled_count(1) == 1
    body = responses[0].json()
    assert body["status"] == "ready"
    assert body["checks"][tcp_server.target]["status"] == "ok"


async def test_concurrent_probes_share_one_inflight_check_even_without_cache(
    serve: Serve, app_factory: AppFactory, http_dependency: Callable[..., HttpDependency]
) -> None:
    slow = http_dependency(delay=0.5)
    app = app_factory(readiness_dependencies=(slow.url,), readiness_cache_seconds=0)
    async with serve(app) as client:
        responses = await asyncio.gather(*(client.get("/readiness") for _ in range(50)))
    assert {response.status_code for response in responses} == {200}
    assert len(slow.requests) == 1


async def test_results_are_refreshed_after_the_cache_interval(
    serve: Serve, app_factory: AppFactory, tcp_server: CountingTcpServer
) -> None:
    app = app_factory(readiness_dependencies=(tcp_server.target,), readiness_cache_seconds=0.2)
    async with serve(app) as client:
        await client.get("/readiness")
        await client.get("/readiness")
        assert tcp_server.settled_count(1) == 1
        await asyncio.sleep(0.3)
        await client.get("/readiness")
    assert tcp_server.settled_count(2) == 2


async def test_zero_cache_checks_on_every_probe(
    serve: Serve, app_factory: AppFactory, tcp_server: CountingTcpServer
) -> None:
    app = app_factory(readiness_dependencies=(tcp_server.target,), readiness_cache_seconds=0)
    async with serve(app) as client:
        for _ in range(3):
            assert (await client.get("/readiness")).status_code == 200
    assert tcp_server.settled_count(3) == 3


async def test_refused_tcp_dependency_makes_readiness_503(
    serve: Serve, app_factory: AppFactory, closed_port: int, tcp_server: CountingTcpServer
) -> None:
    down = f"tcp://127.0.0.1:{closed_port}"
    app = app_factory(readiness_dependencies=(tcp_server.target, down))
    async with serve(app) as client:
        response = await client.get("/readiness")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["reason"] == f"dependency check failed: {down}"
    assert body["checks"][tcp_server.target]["status"] == "ok"
    assert body["checks"][down]["status"] == "fail"
    assert body["checks"][down]["error"]


async def test_http_dependency_ok_and_path_is_requested(
    serve: Serve, app_factory: AppFactory, http_dependency: Callable[..., HttpDependency]
) -> None:
    dep = http_dependency(status=204)
    async with serve(app_factory(readiness_dependencies=(dep.url,))) as client:
        response = await client.get("/readiness")
    assert response.status_code == 200
    assert response.json()["checks"][dep.url]["status"] == "ok"
    assert dep.requests == ["/healthz"]


async def test_http_dependency_error_status_makes_readiness_503(
    serve: Serve, app_factory: AppFactory, http_dependency: Callable[..., HttpDependency]
) -> None:
    dep = http_dependency(status=503)
    async with serve(app_factory(readiness_dependencies=(dep.url,))) as client:
        response = await client.get("/readiness")
    assert response.status_code == 503
    assert response.json()["checks"][dep.url] == {
        "status": "fail",
        "duration_ms": response.json()["checks"][dep.url]["duration_ms"],
        "error": "HTTP 503",
    }


async def test_each_check_is_bounded_by_the_timeout(
    serve: Serve, app_factory: AppFactory, silent_port: int
) -> None:
    hung = f"http://127.0.0.1:{silent_port}/"
    app = app_factory(readiness_dependencies=(hung,), readiness_timeout_seconds=0.3)
    async with serve(app) as client:
        response = await asyncio.wait_for(client.get("/readiness"), timeout=10)
    assert response.status_code == 503
    assert response.json()["checks"][hung]["error"] == "timed out after 0.3s"


async def test_checks_run_concurrently(
    serve: Serve, app_factory: AppFactory, http_dependency: Callable[..., HttpDependency]
) -> None:
    """Both servers answer only once both requests have arrived; sequential checks fail."""
    barrier = threading.Barrier(2)
    first = http_dependency(barrier=barrier)
    second = http_dependency(barrier=barrier)
    app = app_factory(readiness_dependencies=(first.url, second.url), readiness_timeout_seconds=8)
    async with serve(app) as client:
        response = await client.get("/readiness")
    assert response.status_code == 200, response.json()
