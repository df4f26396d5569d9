"""A minimal HTTP/1.1 client over raw sockets, able to send what real clients never would."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass


@dataclass
class RawResult:
    """What came back for one hostile exchange."""

    status: int | None  # None: the server closed (or reset) without a response
    headers: dict[str, str]
    body: bytes
    closed: bool  # server closed the connection after (or instead of) responding
    elapsed: float

    @property
    def outcome(self) -> str:
        return str(self.status) if self.status is not None else "closed"


def _read_response(sock: socket.socket, deadline: float) -> tuple[bytes, bool]:
    """Read one response (headers + Content-Length body) or until close/deadline."""
    buf = b""
    closed = False
    need: int | None = None
    while True:
        if need is not None and len(buf) >= need:
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except (ConnectionResetError, BrokenPipeError):
            closed = True
            break
        if not chunk:
            closed = True
            break
        buf += chunk
        if need is None and b"\r\n\r\n" in buf:
            head, _, _ = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            need = len(head) + 4 + length
    return buf, closed


def parse(raw: bytes) -> tuple[int | None, dict[str, str], bytes]:
    if not raw.startswith(b"HTTP/"):
        return None, {}, b""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
    return status, headers, body


def exchange(
    port: int,
    payload: bytes | list[tuple[bytes, float]],
    timeout: float = 5.0,
    expect_close_within: float = 0.3,
) -> RawResult:
    """Send `payload` (or a list of (chunk, pause-after) pieces) and read one response.

    After the response, waits up to `expect_close_within` seconds to see whether the server
    closes the connection.
    """
    start = time.monotonic()
    pieces = [(payload, 0.0)] if isinstance(payload, bytes) else payload
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        closed = False
        try:
            for chunk, pause in pieces:
                sock.sendall(chunk)
                if pause:
                    time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        raw, closed_reading = _read_response(sock, start + timeout)
        closed = closed or closed_reading
        if not closed and expect_close_within:
            sock.settimeout(expect_close_within)
            try:
                closed = sock.recv(1) == b""
            except TimeoutError:
                closed = False
            except (ConnectionResetError, BrokenPipeError):
                closed = True
    status, headers, body = parse(raw)
    return RawResult(status, headers, body, closed, time.monotonic() - start)


def keepalive_paths(port: int, paths: list[str], timeout: float = 60.0) -> list[int]:
    """GET every path over one keep-alive connection (reconnecting if the server closes)."""
    statuses: list[int] = []
    deadline = time.monotonic() + timeout
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        for path in paths:
            req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
            try:
                sock.sendall(req)
                raw, closed = _read_response(sock, deadline)
            except OSError:
                raw, closed = b"", True
            status, headers, _ = parse(raw)
            if status is None:
                raise AssertionError(f"no response for {path!r}")
            statuses.append(status)
            if closed or headers.get("connection", "").lower() == "close":
                sock.close()
                sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    finally:
        sock.close()
    return statuses
