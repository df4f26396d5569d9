"""Keep-alive load from many concurrent clients, with SIGTERM sent mid-load.

Each client keeps one HTTP/1.1 connection open and sends GET requests back to back; when a
response says `Connection: close` (the app's drain mode) or the connection ends, it
reconnects. A request counts as started when its bytes are written, or, on a fresh
connection, when the connect began. A request fails when it was started but no complete
response came back. Connection refusals are counted separately: after the drain ends the app
stops accepting, so refusals from then on are expected.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

# Requests that start right as the drain ends race the listener closing: uvicorn checks its
# stop flag every 0.1 s, and a saturated event loop accepts queued connections late, so a
# connection still in the kernel's accept queue when the listener closes is reset. Such
# requests are reported apart, not counted against the drain.
BOUNDARY_SECONDS = 0.25


@dataclass
class LoadResult:
    clients: int
    signal_at: float = 0.0
    drain_seconds: float = 0.0
    sent: int = 0
    ok: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failed_at: list[float] = field(default_factory=list)  # start times of failed requests
    refused_at: list[float] = field(default_factory=list)
    readiness_503_after: float | None = None
    exit_after: float | None = None
    exit_code: int | None = None
    sent_after_signal: int = 0
    ok_after_signal: int = 0

    @property
    def drain_end(self) -> float:
        return self.signal_at + self.drain_seconds

    @property
    def failed_before_drain_end(self) -> int:
        """Failed requests started before the drain ended, boundary window excluded."""
        return sum(1 for t in self.failed_at if t < self.drain_end - BOUNDARY_SECONDS)

    @property
    def failed_at_boundary(self) -> int:
        """Failed requests started within BOUNDARY_SECONDS of the drain's end (either side)."""
        return sum(1 for t in self.failed_at if abs(t - self.drain_end) <= BOUNDARY_SECONDS)

    @property
    def refused_before_drain_end(self) -> int:
        return sum(1 for t in self.refused_at if t < self.drain_end)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers


async def _poll_readiness(port: int, result: LoadResult, stop: asyncio.Event) -> None:
    """Poll /readiness on fresh connections until the first 503."""
    request = b"GET /readiness HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            status, _ = await asyncio.wait_for(_read_response(reader), 5)
            writer.close()
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            status = None
        if status == 503:
            result.readiness_503_after = time.monotonic() - result.signal_at
            return
        await asyncio.sleep(0.002)


async def _run(
    proc: subprocess.Popen[bytes],
    port: int,
    clients: int,
    warmup: float,
    drain_seconds: float,
    exit_timeout: float,
) -> LoadResult:
    result = LoadResult(clients=clients, drain_seconds=drain_seconds)
    stop = asyncio.Event()
    signalled = False

    async def client(i: int) -> None:
        request = f"GET /items/{i} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        reader = writer = None
        while not stop.is_set():
            started = time.monotonic()
            if writer is None:
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    result.refused_at.append(started)
                    await asyncio.sleep(0.02)
                    continue
            assert reader is not None
            result.sent += 1
            after_signal = signalled
            if after_signal:
                result.sent_after_signal += 1
            try:
                writer.write(request)
                status, headers = await asyncio.wait_for(_read_response(reader), 30)
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                result.failed_at.append(started)
                writer.close()
                writer = None
                continue
            result.ok += 1
            if after_signal:
                result.ok_after_signal += 1
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if headers.get("connection", "").lower() == "close":
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    tasks = [asyncio.create_task(client(i)) for i in range(clients)]
    await asyncio.sleep(warmup)
    result.signal_at = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    signalled = True
    poller = asyncio.create_task(_poll_readiness(port, result, stop))
    deadline = result.signal_at + exit_timeout
    while proc.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a PID
        await asyncio.sleep(0.005)
    if proc.poll() is not None:
        result.exit_after = time.monotonic() - result.signal_at
        result.exit_code = proc.returncode
    stop.set()
    await asyncio.gather(*tasks, poller, return_exceptions=True)
    return result


def shutdown_under_load(
    proc: subprocess.Popen[bytes],
    port: int,
    clients: int = 64,
    warmup: float = 2.0,
    drain_seconds: float = 2.0,
    exit_timeout: float = 30.0,
) -> LoadResult:
    """Run `clients` keep-alive clients, SIGTERM `proc` after `warmup`, wait for its exit."""
    return asyncio.run(_run(proc, port, clients, warmup, drain_seconds, exit_timeout))
