"""The issuer's signing keys: found through its OpenID discovery document, fetched off the event
loop, refreshed on a schedule, kept while the issuer is down for a bounded time.

`IssuerKeys.start()` (from the app's lifespan) fetches the keys and then refreshes them every
AUTH_JWKS_CACHE_SECONDS in a background task; a failed fetch is retried every
`RETRY_SECONDS`. A token naming an unknown `kid` triggers one refresh, at most one per
`UNKNOWN_KID_COOLDOWN_SECONDS`, so forged key ids cannot make the service hammer the issuer.
While the issuer cannot be reached, the last keys fetched stay in use until
AUTH_JWKS_MAX_STALE_SECONDS past their refetch time; then `usable()` is false and requests get
503 (app/auth.py). Readiness never depends on the issuer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import urllib.request
from typing import Any

import jwt
from prometheus_client import CollectorRegistry, Counter, Gauge

logger = logging.getLogger("app.auth")

RETRY_SECONDS = 5.0
UNKNOWN_KID_COOLDOWN_SECONDS = 10.0
FETCH_TIMEOUT_SECONDS = 5.0
MAX_DOCUMENT_BYTES = 1024 * 1024


class KeyFetchError(Exception):
    """The discovery document or the key set could not be fetched or read."""


def _get_json(url: str, user_agent: str) -> dict[str, Any]:
    if not url.startswith(("http://", "https://")):
        raise KeyFetchError("not an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, headers={"Accept": "application/json", "User-Agent": user_agent}
    )
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
            body = response.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise KeyFetchError(f"{type(exc).__name__}: {exc}") from None
    if len(body) > MAX_DOCUMENT_BYTES:
        raise KeyFetchError("document larger than 1 MiB")
    try:
        document = json.loads(body)
    except ValueError:
        raise KeyFetchError("not JSON") from None
    if not isinstance(document, dict):
        raise KeyFetchError("not a JSON object")
    return document


# A signing key, and the algorithm its JWK names (`alg`), if it names one.
Key = tuple[jwt.PyJWK, str | None]


def fetch_keys(issuer: str, user_agent: str) -> dict[str, Key]:
    """The issuer's signing keys by `kid`, from its discovery document's `jwks_uri`
    (blocking: run it in a thread)."""
    discovery = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", user_agent)
    if discovery.get("issuer") != issuer:
        raise KeyFetchError("the discovery document names another issuer")
    jwks_uri = discovery.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise KeyFetchError("the discovery document has no jwks_uri")
    document = _get_json(jwks_uri, user_agent)
    keys: dict[str, Key] = {}
    for data in document.get("keys", []):
        if not isinstance(data, dict) or data.get("use", "sig") != "sig" or "kid" not in data:
            continue
        try:
            alg = data.get("alg")
            keys[str(data["kid"])] = (jwt.PyJWK(data), alg if isinstance(alg, str) else None)
        except jwt.PyJWTError:
            continue  # a key of a type this service cannot use; the others still count
    if not keys:
        raise KeyFetchError("the key set holds no usable signing key")
    return keys


class IssuerKeys:
    """The current key set of one issuer, and its refresh."""

    def __init__(
        self,
        issuer: str,
        *,
        cache_seconds: float,
        max_stale_seconds: float,
        registry: CollectorRegistry,
        user_agent: str,
    ) -> None:
        self.issuer = issuer
        self.cache_seconds = cache_seconds
        self.max_stale_seconds = max_stale_seconds
        self.user_agent = user_agent
        self.keys: dict[str, Key] = {}
        self.fetched_at: float | None = None  # time.monotonic() of the last good fetch
        self._last_forced = -UNKNOWN_KID_COOLDOWN_SECONDS
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self.fetches = Counter(
            "auth_jwks_fetches_total",
            "Fetches of the issuer's signing keys (discovery document and key set).",
            registry=registry,
        )
        self.failures = Counter(
            "auth_jwks_fetch_failures_total",
            "Fetches of the issuer's signing keys that failed.",
            registry=registry,
        )
        Gauge(
            "auth_jwks_age_seconds",
            "Seconds since the issuer's signing keys were last fetched (-1: never).",
            registry=registry,
        ).set_function(self.age)

    def age(self) -> float:
        return -1.0 if self.fetched_at is None else time.monotonic() - self.fetched_at

    def usable(self) -> bool:
        """Whether the key set may be used: fetched, and not older than the refetch interval
        plus AUTH_JWKS_MAX_STALE_SECONDS."""
        fetched = self.fetched_at
        return fetched is not None and (
            time.monotonic() - fetched <= self.cache_seconds + self.max_stale_seconds
        )

    async def refresh(self) -> bool:
        """Fetch the key set in a worker thread; keep the last good one on failure."""
        async with self._lock:
            self.fetches.inc()
            try:
                keys = await asyncio.to_thread(fetch_keys, self.issuer, self.user_agent)
            except KeyFetchError as exc:
                self.failures.inc()
                if not self._failing:  # logged when it starts failing, not on every retry
                    logger.warning(
                        "cannot fetch the issuer's signing keys; keeping the last ones",
                        extra={"issuer": self.issuer, "error": str(exc)},
                    )
                self._failing = True
                return False
            if self._failing:
                logger.info(
                    "fetched the issuer's signing keys again", extra={"issuer": self.issuer}
                )
            self._failing = False
            self.keys = keys
            self.fetched_at = time.monotonic()
            return True

    async def key(self, kid: str) -> Key | None:
        """The key named `kid`; an unknown one triggers one refresh (rate-limited)."""
        key = self.keys.get(kid)
        if key is not None:
            return key
        now = time.monotonic()
        if now - self._last_forced < UNKNOWN_KID_COOLDOWN_SECONDS:
            return None
        self._last_forced = now
        await self.refresh()
        return self.keys.get(kid)

    async def _run(self, ok: bool) -> None:
        while True:
            await asyncio.sleep(
                self.cache_seconds if ok else min(RETRY_SECONDS, self.cache_seconds)
            )
            ok = await self.refresh()

    async def start(self) -> None:
        """The first fetch (at most two requests of FETCH_TIMEOUT_SECONDS), then the refresh
        task; the service starts whether or not the issuer answered."""
        ok = await self.refresh()
        self._task = asyncio.get_running_loop().create_task(self._run(ok), name="jwks-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
