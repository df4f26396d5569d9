"""Run the app under uvicorn with a drain phase before uvicorn's own graceful shutdown.

Stop sequence on SIGTERM or SIGINT:
1. readiness answers 503 at once, so the endpoints controller takes the pod out of rotation;
2. for SHUTDOWN_DRAIN_SECONDS the server keeps serving, every response with
   `Connection: close` so keep-alive clients reconnect elsewhere;
3. stop accepting, then wait ACCEPTED_GRACE_SECONDS so that requests already sent on
   connections the server accepted are read before idle connections are closed;
4. uvicorn's graceful shutdown: close idle connections, give in-flight requests up to
   SHUTDOWN_TIMEOUT_SECONDS, run the lifespan shutdown;
5. the process exits 0.
A second signal during the drain skips the rest of it; one more after that forces the exit.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
from types import FrameType

import uvicorn
from fastapi import FastAPI

from app.health import HealthState
from app.settings import Settings

logger = logging.getLogger("app.server")

# uvicorn's shutdown closes the listener and, in the same step, every connection without a
# request in progress. A request already sent on an accepted connection but not read yet by
# the event loop (a connection accepted a moment before, or a keep-alive connection whose
# next request is on its way) would be dropped, the connection reset. This pause, taken once
# no new connection can arrive, lets the loop read such requests; they are then in progress
# and answered (with `Connection: close`) before their connections close.
ACCEPTED_GRACE_SECONDS = 0.2


class DrainingServer(uvicorn.Server):
    """`uvicorn.Server` whose stop signal starts a drain period instead of stopping at once.

    uvicorn 0.54's `handle_exit` records each caught signal in `_captured_signals`, and
    `capture_signals()` re-raises them with `signal.raise_signal` after the server finished,
    with the default handlers restored. A clean stop on SIGTERM then ends with the process
    killed by SIGTERM (exit status 143), which Kubernetes and shells report as a crash. This
    subclass handles the signal completely itself and never records it, so nothing is
    re-raised and `python -m app` returns 0 after a graceful stop.
    """

    def __init__(self, config: uvicorn.Config, *, state: HealthState, drain_seconds: float):
        super().__init__(config)
        self._state = state
        self._drain_seconds = drain_seconds
        self._drain_deadline: float | None = None
        self._drain_signal: str | None = None
        self._drain_announced = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Runs as a Python signal handler on the main thread, between two bytecodes of the
        # event loop; it only flips flags. Logging happens in on_tick, where it cannot
        # interleave with a log line the interrupted code was writing.
        if self._drain_deadline is None:
            self._state.start_draining()
            self._drain_signal = signal.Signals(sig).name
            self._drain_deadline = time.monotonic() + self._drain_seconds
        elif not self.should_exit:
            self.should_exit = True
        else:
            self.force_exit = True

    async def on_tick(self, counter: int) -> bool:
        # uvicorn calls this every 0.1 s from its main loop; returning True starts shutdown.
        if self._drain_deadline is not None and not self.should_exit:
            if not self._drain_announced:
                self._drain_announced = True
                logger.info(
                    "stop requested, draining",
                    extra={"signal": self._drain_signal, "drain_seconds": self._drain_seconds},
                )
            if time.monotonic() >= self._drain_deadline:
                logger.info("drain finished, shutting down")
                self.should_exit = True
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Stop accepting first (uvicorn's shutdown repeats this, which is harmless), let the
        # loop read requests already sent on accepted connections, then shut down as usual.
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        await asyncio.sleep(ACCEPTED_GRACE_SECONDS)
        await super().shutdown(sockets)


def build_server(app: FastAPI, settings: Settings) -> DrainingServer:
    """uvicorn with one worker, uvloop and httptools, proxy headers on, no reload."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="on",
        workers=1,
        reload=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        # Access lines come from app.middleware.RequestMiddleware (with duration and request id).
        access_log=False,
        # Logging is configured by app.logging; uvicorn must not install its own handlers.
        log_config=None,
        log_level=settings.log_level,
        server_header=False,
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
    )
    return DrainingServer(
        config, state=app.state.health, drain_seconds=settings.shutdown_drain_seconds
    )
