"""JWT bearer authentication of the business routes (RFC 6750), validated in the service.

`Authenticator.authenticate(header)` checks a bearer token: an algorithm of AUTH_ALGORITHMS,
the issuer's key named by `kid` (app/auth_keys.py), the signature, and the claims `exp`,
`iat`, `iss`, `aud` and `sub` (all required), with AUTH_LEEWAY_SECONDS of clock skew, and the
scopes of AUTH_REQUIRED_SCOPES. Tokens that passed are remembered until their `exp` (a
bounded cache; verifying a signature costs more than the rest of a request, bench/RESULTS.md).

Two pure-ASGI middlewares use it: `AuthenticateMiddleware` records the outcome in the scope
(the claims in `request.state.auth_claims`) and `RequireAuthMiddleware`, further in, answers
what failed: 401 with `WWW-Authenticate: Bearer` (`error="invalid_token"` when a token was
sent), 403 `insufficient_scope`, or 503 with `Retry-After` while no usable key set is there.
The rate limiter (app/ratelimit.py) sits between them, so a rejected request still spends its
client's bucket. Probes, `/metrics` and the docs are never authenticated. Nothing here logs a
token or answers with a stack trace.

Over 250 lines because the checks and the two middlewares answering them belong together: a
security review reads one file.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import jwt
import orjson
from jwt import exceptions as jwt_errors
from prometheus_client import CollectorRegistry, Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth_keys import RETRY_SECONDS, IssuerKeys
from app.identity import SCOPE_KEY, Outcome
from app.settings import Settings

logger = logging.getLogger("app.auth")

MAX_TOKEN_BYTES = 8 * 1024
CACHE_SIZE = 1024
# RFC 6750 b64token, which covers the three base64url parts of a JWS.
_B64TOKEN = re.compile(rb"[A-Za-z0-9\-._~+/]+=*")
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
# The `reason` label of auth_requests_total: a fixed set.
REASONS = (
    "ok",
    "missing",
    "malformed",
    "algorithm",
    "unknown_key",
    "signature",
    "expired",
    "not_yet_valid",
    "audience",
    "issuer",
    "claims",
    "insufficient_scope",
    "keys_unavailable",
)


# PyJWT's errors by the reason they are counted under; the first match wins.
_REASONS_BY_ERROR: tuple[tuple[type[jwt_errors.PyJWTError], str], ...] = (
    (jwt_errors.ExpiredSignatureError, "expired"),
    (jwt_errors.ImmatureSignatureError, "not_yet_valid"),
    (jwt_errors.InvalidIssuedAtError, "not_yet_valid"),
    (jwt_errors.InvalidAudienceError, "audience"),
    (jwt_errors.InvalidIssuerError, "issuer"),
    (jwt_errors.MissingRequiredClaimError, "claims"),
    (jwt_errors.InvalidSubjectError, "claims"),
    (jwt_errors.InvalidSignatureError, "signature"),
    (jwt_errors.InvalidKeyError, "signature"),
    (jwt_errors.InvalidAlgorithmError, "algorithm"),
)


def _reason(exc: jwt_errors.PyJWTError) -> str:
    for error, reason in _REASONS_BY_ERROR:
        if isinstance(exc, error):
            return reason
    return "malformed"


def _scopes(claims: dict[str, Any]) -> set[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return set(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, list):
        return {item for item in scp if isinstance(item, str)}
    return set(scp.split()) if isinstance(scp, str) else set()


class Authenticator:
    """Validates bearer tokens for one issuer and audience; counts every outcome."""

    def __init__(self, settings: Settings, keys: IssuerKeys, registry: CollectorRegistry) -> None:
        self.keys = keys
        self.issuer = settings.auth_issuer
        self.audience = settings.auth_audience
        self.algorithms = frozenset(settings.auth_algorithms)
        self.leeway = settings.auth_leeway_seconds
        self.required_scopes = frozenset(settings.auth_required_scopes)
        # token -> (claims, exp, kid): tokens that passed every check, until their exp.
        self._verified: dict[bytes, tuple[dict[str, Any], float, str]] = {}
        counter = Counter(
            "auth_requests",
            "Authentication outcomes of requests to the business routes, by reason.",
            ("reason",),
            registry=registry,
        )
        self._counts = {reason: counter.labels(reason=reason) for reason in REASONS}

    def count(self, outcome: Outcome) -> Outcome:
        self._counts[outcome.reason].inc()
        return outcome

    def forget_verified(self) -> None:
        """Empty the verified-token cache (the benchmark measures a full check with it)."""
        self._verified.clear()

    async def authenticate(self, header: bytes | None) -> Outcome:
        try:
            outcome = await self._authenticate(header)
        except Exception as exc:  # a token must never turn into a 500, nor into a log line
            logger.error("token validation failed unexpectedly: %s", type(exc).__name__)
            outcome = Outcome("malformed")
        return self.count(outcome)

    async def _authenticate(self, header: bytes | None) -> Outcome:
        if header is None:
            return Outcome("missing", token_sent=False)
        scheme, _, token = header.partition(b" ")
        if scheme.lower() != b"bearer":
            return Outcome("missing", token_sent=False)
        token = token.strip(b" ")
        if len(token) > MAX_TOKEN_BYTES or not _B64TOKEN.fullmatch(token):
            return Outcome("malformed")
        if not self.keys.usable():
            return Outcome("keys_unavailable")
        cached = self._verified.get(token)
        if cached is not None:
            claims, expires, kid = cached
            if time.time() < expires and kid in self.keys.keys:
                return self._check_scopes(claims)
            del self._verified[token]
        try:
            header_fields = jwt.get_unverified_header(token)
        except jwt_errors.PyJWTError:
            return Outcome("malformed")
        algorithm, kid = header_fields.get("alg"), header_fields.get("kid")
        if algorithm not in self.algorithms:
            return Outcome("algorithm")
        if not isinstance(kid, str):
            return Outcome("unknown_key")
        found = await self.keys.key(kid)
        if found is None:
            return Outcome("unknown_key")
        key, key_algorithm = found
        # A key published for one algorithm is used for that one only.
        if key_algorithm is not None and key_algorithm != algorithm:
            return Outcome("algorithm")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": _REQUIRED_CLAIMS, "verify_sub": True},
            )
        except jwt_errors.PyJWTError as exc:
            return Outcome(_reason(exc))
        except (ValueError, TypeError):
            return Outcome("malformed")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            return Outcome("claims")
        self._remember(token, claims, kid)
        return self._check_scopes(claims)

    def _check_scopes(self, claims: dict[str, Any]) -> Outcome:
        if self.required_scopes and not self.required_scopes <= _scopes(claims):
            return Outcome("insufficient_scope", claims)
        return Outcome("ok", claims)

    def _remember(self, token: bytes, claims: dict[str, Any], kid: str) -> None:
        if len(self._verified) >= CACHE_SIZE:
            now = time.time()
            for cached_token in [t for t, v in self._verified.items() if v[1] <= now]:
                del self._verified[cached_token]
            if len(self._verified) >= CACHE_SIZE:
                del self._verified[next(iter(self._verified))]  # the oldest entry
        self._verified[token] = (claims, float(claims["exp"]) + self.leeway, kid)


def _authorization(scope: Scope) -> tuple[bytes | None, bool]:
    """The Authorization header's value, and whether there was more than one."""
    found = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if found is not None:
                return found, True
            found = value
    return found, False


class AuthenticateMiddleware:
    """Authenticates each request outside `exempt` paths; records the `Outcome` in the scope."""

    def __init__(self, app: ASGIApp, *, authenticator: Authenticator, exempt: frozenset[str]):
        self.app = app
        self.authenticator = authenticator
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.exempt:
            header, repeated = _authorization(scope)
            if repeated:
                outcome = self.authenticator.count(Outcome("malformed"))
            else:
                outcome = await self.authenticator.authenticate(header)
            scope[SCOPE_KEY] = outcome
            if outcome.claims is not None:
                scope.setdefault("state", {})["auth_claims"] = outcome.claims
        await self.app(scope, receive, send)


def _challenge(outcome: Outcome, scopes: frozenset[str]) -> tuple[int, list[tuple[bytes, bytes]]]:
    if outcome.reason == "keys_unavailable":
        return 503, [(b"retry-after", str(int(RETRY_SECONDS)).encode())]
    if outcome.reason == "insufficient_scope":
        wanted = " ".join(sorted(scopes))
        value = f'Bearer error="insufficient_scope", scope="{wanted}"'
        return 403, [(b"www-authenticate", value.encode())]
    if not outcome.token_sent:
        return 401, [(b"www-authenticate", b"Bearer")]
    return 401, [(b"www-authenticate", b'Bearer error="invalid_token"')]


_BODIES = {
    401: orjson.dumps({"detail": "Not authenticated"}),
    403: orjson.dumps({"detail": "Insufficient scope"}),
    503: orjson.dumps({"detail": "Authentication is unavailable"}),
}


class RequireAuthMiddleware:
    """Answers a request whose `Outcome` is not "ok" (401, 403 or 503); passes the others."""

    def __init__(self, app: ASGIApp, *, required_scopes: frozenset[str]) -> None:
        self.app = app
        self.required_scopes = required_scopes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        outcome: Outcome | None = scope.get(SCOPE_KEY)
        if outcome is None or outcome.reason == "ok":
            await self.app(scope, receive, send)
            return
        status, headers = _challenge(outcome, self.required_scopes)
        body = _BODIES[status]
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
