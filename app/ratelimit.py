"""Rate limiting of the business routes: a pure-ASGI middleware on the `limits` library's
asynchronous storage (fixed windows), in process memory or in a Redis shared by all replicas.

Each request is counted against its client's bucket: the token's `sub` when the request was
authenticated (app/auth.py), else the client address as uvicorn left it after its proxy-header
handling (FORWARDED_ALLOW_IPS), so an `X-Forwarded-For` from an untrusted peer never gets a
fresh bucket. RATE_LIMIT applies to every business route together; a route template in
RATE_LIMIT_ROUTES has its own limit and bucket instead. Probes, `/metrics` and the docs are
never limited.

Responses carry the `RateLimit-Policy` and `RateLimit` fields of the IETF httpapi draft
(draft-ietf-httpapi-ratelimit-headers); over the limit the answer is 429 with `Retry-After`.
When the storage fails the request is served unlimited (RATE_LIMIT_FAIL_OPEN, the default) or
answered 503, counted, logged once per `LOG_INTERVAL_SECONDS`, and the storage is left alone
for `STORAGE_PAUSE_SECONDS`; never a 500.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable

import orjson
from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from prometheus_client import CollectorRegistry, Counter
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.identity import client_key
from app.settings import ALLOWED, Settings, SettingsError
from app.settings_security import parse_limits

logger = logging.getLogger("app.ratelimit")

DEFAULT_POLICY = "default"
STORAGE_TIMEOUT_SECONDS = 0.5
STORAGE_PAUSE_SECONDS = 1.0
LOG_INTERVAL_SECONDS = 60.0
_TOO_MANY = orjson.dumps({"detail": "Too Many Requests"})
_UNAVAILABLE = orjson.dumps({"detail": "Rate limiting is unavailable"})


class Policy:
    """The limits of a bucket, and their `RateLimit-Policy` field value."""

    def __init__(self, name: str, items: Iterable[RateLimitItem]) -> None:
        self.name = name
        self.items = tuple(items)
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        self.labels = [quoted if i == 0 else f"{quoted}-{i + 1}" for i in range(len(self.items))]
        self.header = ", ".join(
            f'"{label}";q={item.amount};w={item.get_expiry()}'
            for label, item in zip(self.labels, self.items, strict=True)
        ).encode()


def make_storage(url: str) -> Storage:
    if url == "memory://":
        return MemoryStorage()
    return RedisStorage(
        f"async+{url}",
        implementation="redispy",
        wrap_exceptions=True,
        socket_timeout=STORAGE_TIMEOUT_SECONDS,
        socket_connect_timeout=STORAGE_TIMEOUT_SECONDS,
    )


class RateLimiter:
    """The policies, the storage and the counters of one app."""

    def __init__(
        self, settings: Settings, routes: Iterable[BaseRoute], registry: CollectorRegistry
    ) -> None:
        self.default = (
            Policy(DEFAULT_POLICY, parse_limits(settings.rate_limit))
            if settings.rate_limit
            else None
        )
        by_template = {getattr(route, "path_format", None): route for route in routes}
        self.routes: list[tuple[BaseRoute, Policy]] = []
        for template, limit in settings.rate_limit_routes.items():
            if template not in by_template:
                raise SettingsError(
                    f"invalid configuration: RATE_LIMIT_ROUTES={template!r} is invalid (not a "
                    f"route template of the service); allowed: {ALLOWED['RATE_LIMIT_ROUTES']}"
                )
            self.routes.append((by_template[template], Policy(template, parse_limits(limit))))
        self.fail_open = settings.rate_limit_fail_open
        self.storage = make_storage(settings.rate_limit_storage)
        self._paused_until = 0.0
        self._logged_at = -LOG_INTERVAL_SECONDS
        limited = Counter(
            "rate_limited_requests",
            "Requests answered 429 by the rate limiter, by policy (default or a route template).",
            ("policy",),
            registry=registry,
        )
        self.limited = {
            policy.name: limited.labels(policy=policy.name) for policy in self.policies()
        }
        self.unavailable = Counter(
            "rate_limit_storage_errors",
            "Requests the rate limiter could not count because its storage failed.",
            registry=registry,
        )

    def policies(self) -> list[Policy]:
        return [*([self.default] if self.default else []), *(p for _, p in self.routes)]

    def policy(self, scope: Scope) -> Policy | None:
        for route, policy in self.routes:
            if route.matches(scope)[0] is Match.FULL:
                return policy
        return self.default

    async def hit(self, policy: Policy, key: str) -> list[tuple[int, float]] | None:
        """Count one request; (remaining, seconds to reset) per limit, None if the storage
        failed."""
        if time.monotonic() < self._paused_until:
            return self._storage_failed(None)
        results = []
        try:
            for item in policy.items:
                storage_key = item.key_for(policy.name, key)
                count = await self.storage.incr(storage_key, item.get_expiry())
                reset = await self.storage.get_expiry(storage_key)
                results.append((item.amount - count, max(reset - time.time(), 0.0)))
        except Exception as exc:  # the storage's own errors vary by client library
            self._paused_until = time.monotonic() + STORAGE_PAUSE_SECONDS
            return self._storage_failed(exc)
        return results

    def _storage_failed(self, exc: Exception | None) -> None:
        self.unavailable.inc()
        now = time.monotonic()
        if exc is not None and now - self._logged_at >= LOG_INTERVAL_SECONDS:
            self._logged_at = now
            logger.warning(
                "rate limit storage unavailable; %s",
                "serving unlimited" if self.fail_open else "answering 503",
                extra={"error": f"{type(exc).__name__}: {exc}"},
            )
        return None


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]):
    headers = [
        *headers,
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RateLimitMiddleware:
    """Counts each request outside `exempt` paths; 429 over the limit."""

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, exempt: frozenset[str]) -> None:
        self.app = app
        self.limiter = limiter
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        limiter = self.limiter
        policy = limiter.policy(scope)
        if policy is None:
            await self.app(scope, receive, send)
            return
        results = await limiter.hit(policy, client_key(scope))
        if results is None:
            if limiter.fail_open:
                await self.app(scope, receive, send)
            else:
                await _answer(send, 503, _UNAVAILABLE, [(b"retry-after", b"1")])
            return
        state = ", ".join(
            f'"{label}";r={max(remaining, 0)};t={math.ceil(reset)}'
            for label, (remaining, reset) in zip(policy.labels, results, strict=True)
        ).encode()
        headers = [(b"ratelimit-policy", policy.header), (b"ratelimit", state)]
        over = [reset for remaining, reset in results if remaining < 0]
        if over:
            limiter.limited[policy.name].inc()
            retry = str(max(math.ceil(max(over)), 1)).encode()
            await _answer(send, 429, _TOO_MANY, [*headers, (b"retry-after", retry)])
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
