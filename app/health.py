"""Liveness, readiness and drain state, plus the dependency checks behind readiness.

`HealthState` is the explicit flag that start-up flips on and shutdown flips off. Readiness
checks run concurrently, each bounded by a timeout, and each dependency's result is cached
for a short interval with single-flight: however many probes arrive at once, a dependency
is contacted at most once per interval.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

import orjson
from fastapi import FastAPI
from fastapi.responses import Response

logger = logging.getLogger("app.health")

# The paths of the probes and the scrape: requests the platform makes all the time, so they
# are access-logged at debug and left untraced unless asked for.
PROBE_ENDPOINTS = frozenset({"/health", "/readiness", "/metrics"})

_JSON = "application/json"
_HEALTH_OK = orjson.dumps({"status": "ok"})


class HealthState:
    """Process-wide probe state: `started` after start-up, `draining` once a stop began."""

    __slots__ = ("draining", "started")

    def __init__(self) -> None:
        self.started = False
        self.draining = False

    def start_draining(self) -> None:
        self.draining = True


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    duration_ms: float
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {
            "status": "ok" if self.ok else "fail",
            "duration_ms": round(self.duration_ms, 2),
        }
        if self.error is not None:
            body["error"] = self.error
        return body


@dataclass(slots=True)
class _Dependency:
    target: str
    url: SplitResult
    result: CheckResult | None = None
    checked_at: float = 0.0
    inflight: asyncio.Task[CheckResult] | None = field(default=None, repr=False)


async def _check_tcp(url: SplitResult) -> None:
    _, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.close()
    await writer.wait_closed()


async def _check_http(url: SplitResult, user_agent: str) -> None:
    secure = url.scheme == "https"
    port = url.port or (443 if secure else 80)
    context = ssl.create_default_context() if secure else None
    reader, writer = await asyncio.open_connection(url.hostname, port, ssl=context)
    try:
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        writer.write(
            f"GET {target} HTTP/1.1\r\nHost: {url.netloc}\r\nUser-Agent: {user_agent}\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n".encode("ascii")
        )
        await writer.drain()
        status_line = await reader.readline()
    finally:
        writer.close()
    parts = status_line.split(maxsplit=2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise ConnectionError("not an HTTP response")
    status = int(parts[1])
    # Same rule as a Kubernetes httpGet probe: 2xx and 3xx mean healthy.
    if not 200 <= status < 400:
        raise ConnectionError(f"HTTP {status}")


class ReadinessChecker:
    """Checks the configured dependencies, concurrently, with per-check timeout and caching."""

    def __init__(
        self,
        targets: tuple[str, ...],
        *,
        timeout: float,
        cache_seconds: float,
        user_agent: str,
    ) -> None:
        self._dependencies = [_Dependency(target, urlsplit(target)) for target in targets]
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._user_agent = user_agent

    @property
    def configured(self) -> bool:
        return bool(self._dependencies)

    async def _run(self, dep: _Dependency) -> CheckResult:
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                if dep.url.scheme == "tcp":
                    await _check_tcp(dep.url)
                else:
                    await _check_http(dep.url, self._user_agent)
            result = CheckResult(True, (time.perf_counter() - start) * 1000)
        except TimeoutError:
            result = CheckResult(
                False, (time.perf_counter() - start) * 1000, f"timed out after {self._timeout}s"
            )
        except Exception as exc:
            # Whatever goes wrong (refused, DNS, TLS, garbage reply) is a failed check,
            # never an error of the readiness endpoint itself.
            reason = str(exc) or type(exc).__name__
            result = CheckResult(False, (time.perf_counter() - start) * 1000, reason)
        if not result.ok:
            logger.warning(
                "readiness check failed", extra={"dependency": dep.target, "error": result.error}
            )
        dep.result = result
        dep.checked_at = time.monotonic()
        dep.inflight = None
        return result

    async def _result(self, dep: _Dependency) -> CheckResult:
        if dep.result is not None and time.monotonic() - dep.checked_at < self._cache_seconds:
            return dep.result
        if dep.inflight is None:
            # Single-flight: concurrent callers share this one task instead of each dialling.
            dep.inflight = asyncio.create_task(self._run(dep))
        # shield: a probe that disconnects must not cancel the check others are waiting on.
        return await asyncio.shield(dep.inflight)

    async def check(self) -> dict[str, CheckResult]:
        results = await asyncio.gather(*(self._result(dep) for dep in self._dependencies))
        return {dep.target: result for dep, result in zip(self._dependencies, results, strict=True)}


def _json(status: int, body: bytes) -> Response:
    return Response(content=body, status_code=status, media_type=_JSON)


def add_routes(app: FastAPI, state: HealthState, checker: ReadinessChecker) -> None:
    """Probe routes, kept out of the OpenAPI schema: they are for the platform, not clients."""
    starting = orjson.dumps({"status": "not_ready", "reason": "starting", "checks": {}})
    draining = orjson.dumps({"status": "not_ready", "reason": "shutting down", "checks": {}})
    ready_no_deps = orjson.dumps({"status": "ready", "checks": {}})

    @app.get("/health", include_in_schema=False)
    async def health() -> Response:
        # Liveness never looks at dependencies: a slow database must not restart the pod.
        return _json(200, _HEALTH_OK)

    @app.get("/readiness", include_in_schema=False)
    async def readiness() -> Response:
        # The answer reflects the state when the probe arrived; a stop that begins while
        # dependencies are being checked is reported by the next probe.
        if state.draining:
            return _json(503, draining)
        if not state.started:
            return _json(503, starting)
        if not checker.configured:
            return _json(200, ready_no_deps)
        results = await checker.check()
        checks = {target: result.as_dict() for target, result in results.items()}
        failing = [target for target, result in results.items() if not result.ok]
        if failing:
            body = {
                "status": "not_ready",
                "reason": "dependency check failed: " + ", ".join(failing),
                "checks": checks,
            }
            return _json(503, orjson.dumps(body))
        return _json(200, orjson.dumps({"status": "ready", "checks": checks}))
