"""Local dependency servers that misbehave on purpose, for the readiness checks.

Each server listens on 127.0.0.1 and counts the connections it accepts, so a test can tell
how many dependency checks the app really made. Behaviours:

- ``ok``: answers ``200 OK`` at once (a TCP check sees an accepted connection);
- ``slow``: answers ``200 OK`` after ``delay`` seconds;
- ``hang``: accepts and never answers (a check can only end by its own timeout);
- ``drop``: accepts and closes at once without answering;
- ``error``: answers ``503 Service Unavailable``.

``refusing_port()`` gives a port where nothing listens (connection refused); ``listen()`` can
later bind that same port, which is how a dependency "recovers".
"""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.support.appproc import free_port
from tests.support.wait import poll

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
_ERR = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndown"


def refusing_port() -> int:
    """A loopback port with no listener: connecting to it is refused."""
    return free_port()


class FaultServer:
    """A threaded loopback server whose behaviour (`mode`) can change while it runs."""

    def __init__(self, mode: str = "ok", delay: float = 0.0, port: int | None = None) -> None:
        self.mode = mode
        self.delay = delay
        self.port = port or free_port()
        self.connections = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._open: set[socket.socket] = set()

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def tcp_url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def listen(self) -> FaultServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(1024)
        sock.settimeout(0.1)
        self._sock = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()
        return self

    def reset_count(self) -> None:
        with self._lock:
            self.connections = 0

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.add(conn)
            threading.Thread(target=self._handle, args=(conn, self.mode), daemon=True).start()

    def _handle(self, conn: socket.socket, mode: str) -> None:
        try:
            if mode == "drop":
                return
            conn.settimeout(0.5)
            with contextlib.suppress(TimeoutError, OSError):
                conn.recv(65536)  # the request (a TCP check sends nothing; that is fine)
            if mode == "hang":
                self._stop.wait(120)
                return
            if mode == "slow":
                self._stop.wait(self.delay)
            conn.sendall(_ERR if mode == "error" else _OK)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(conn)
            conn.close()

    def close(self) -> None:
        """Stop listening and drop every open connection: the port refuses again."""
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            for conn in list(self._open):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FaultServer:
        return self.listen()

    def __exit__(self, *exc: object) -> None:
        self.close()


# The tests' one polling loop, under the name these tests use.
wait_for = poll
