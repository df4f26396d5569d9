"""Keep-alive load from many concurrent clients, with SIGTERM sent mid-load.

Load model (`reroute=True`, the default) — what a pod behind a Kubernetes Service sees:

- Each client keeps one HTTP/1.1 connection to the server and sends `GET /items/{i}` back to
  back. When a response says `Connection: close` (the app's drain mode) or the connection
  ends, it opens a new one.
- From SIGTERM on, a poller (the kubelet's readiness probe) calls `/readiness` on fresh
  connections until it sees 503. The load generator then plays the endpoints controller:
  `propagation_delay` seconds after that 503 (a parameter, well under the drain), the pod
  is out of the Service's endpoints, so clients stop opening NEW connections to this server.
  A client that needs a new connection from then on would reach another pod: it is counted
  as *rerouted* and stops. Connections already established keep sending requests until a
  response says `Connection: close`; then that client is rerouted too.
- Before readiness turned 503 (plus the delay), clients reconnect to this server normally.

A request counts as sent to this server when its bytes are written, or, on a fresh
connection, when the connect began. Every request sent must come back complete with 200:
a request fails when no complete response came back (reset, early close, refused connect,
timeout). Nothing is excused by when it started.

Harsh model (`reroute=False`): clients never reroute and keep reconnecting to the same
server after every `Connection: close`, as if the pod were never taken out of the endpoints.
Once the drain ends the server stops accepting, so connects are refused and connections
still waiting in the kernel's accept queue are reset. Those figures show what endpoint
removal protects against; they are information, not a goal.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    clients: int
    reroute: bool
    propagation_delay: float
    signal_at: float = 0.0
    drain_seconds: float = 0.0
    sent: int = 0
    ok: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failed_at: list[float] = field(default_factory=list)  # start times of failed requests
    refused_at: list[float] = field(default_factory=list)  # start times of refused connects
    rerouted: int = 0
    readiness_503_after: float | None = None
    endpoints_removed_after: float | None = None
    exit_after: float | None = None
    exit_code: int | None = None
    sent_after_signal: int = 0
    ok_after_signal: int = 0
    last_sent_after: float | None = None  # last request sent to this server, after SIGTERM

    @property
    def failed(self) -> int:
        """Requests sent to this server without a complete response, refused connects included."""
        return len(self.failed_at) + len(self.refused_at)

    @property
    def drain_end(self) -> float:
        return self.signal_at + self.drain_seconds

    def failed_started(self, *, before_drain_end: bool) -> int:
        """Failed requests (not refusals) started before / from the drain's end."""
        return sum(1 for t in self.failed_at if (t < self.drain_end) == before_drain_end)

    def refused_started(self, *, before_drain_end: bool) -> int:
        return sum(1 for t in self.refused_at if (t < self.drain_end) == before_drain_end)


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


async def _poll_readiness(
    port: int, result: LoadResult, stop: asyncio.Event, removed: asyncio.Event
) -> None:
    """Poll /readiness on fresh connections until the first 503; then, after the
    propagation delay, take the server out of the endpoints (`removed`)."""
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
            break
        await asyncio.sleep(0.002)
    else:
        return
    await asyncio.sleep(result.propagation_delay)
    result.endpoints_removed_after = time.monotonic() - result.signal_at
    removed.set()


async def _run(
    proc: subprocess.Popen[bytes],
    port: int,
    clients: int,
    warmup: float,
    drain_seconds: float,
    exit_timeout: float,
    reroute: bool,
    propagation_delay: float,
) -> LoadResult:
    result = LoadResult(
        clients=clients,
        reroute=reroute,
        propagation_delay=propagation_delay,
        drain_seconds=drain_seconds,
    )
    stop = asyncio.Event()
    removed = asyncio.Event()  # the endpoints controller dropped this server
    signalled = False

    def count_sent(started: float) -> None:
        result.sent += 1
        if signalled:
            result.sent_after_signal += 1
            result.last_sent_after = started - result.signal_at

    async def client(i: int) -> None:
        request = f"GET /items/{i} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        reader = writer = None
        while not stop.is_set():
            if writer is None:
                if reroute and removed.is_set():
                    result.rerouted += 1
                    return
                started = time.monotonic()
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    count_sent(started)
                    result.refused_at.append(started)
                    await asyncio.sleep(0.02)
                    continue
            else:
                started = time.monotonic()
            assert reader is not None
            count_sent(started)
            after_signal = signalled
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
    poller = asyncio.create_task(_poll_readiness(port, result, stop, removed))
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
    *,
    reroute: bool = True,
    propagation_delay: float = 0.5,
) -> LoadResult:
    """Run `clients` keep-alive clients, SIGTERM `proc` after `warmup`, wait for its exit.

    With `reroute`, clients stop opening connections to `proc` `propagation_delay` seconds
    after readiness first answered 503 (see the module docstring).
    """
    return asyncio.run(
        _run(proc, port, clients, warmup, drain_seconds, exit_timeout, reroute, propagation_delay)
    )
