"""The security half of the settings: authentication (`AUTH_*`) and rate limiting (`RATE_LIMIT*`).

`SecuritySettings` extends `OtelSettings` and `Settings` (app/settings.py) extends it, so the
service's variables, these and tracing's are one `Settings`. Both features are off by default:
`AUTH_ISSUER` turns authentication on, `RATE_LIMIT` (or `RATE_LIMIT_ROUTES`) rate limiting.
What they do and cost: docs/security.md.

Over 250 lines because each of the 11 variables is one annotated field with its documentation.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import NoDecode

from app.settings_checks import TRUE_FALSE, Doc, is_host, split_csv
from app.settings_otel import OtelSettings

if TYPE_CHECKING:
    from limits import RateLimitItem

# Asymmetric algorithms only: with an HMAC algorithm anyone holding the issuer's public key
# could sign tokens (key confusion), and `none` is no signature at all.
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
_STORAGE_SCHEMES = ("memory", "redis", "rediss")
_SECONDS_GE_0 = "a finite number of seconds >= 0"
_SECONDS_GT_0 = "a finite number of seconds > 0"


def _limits(value: str) -> tuple[RateLimitItem, ...]:
    # Imported here: `limits` takes ~0.1 s to import, paid only when rate limiting is set.
    from limits import parse_many

    try:
        items = parse_many(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not like 100/minute") from exc
    if not items:
        raise ValueError(f"{value!r} is not like 100/minute")
    return tuple(items)


def _url(value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        raise ValueError(f"the scheme must be one of {', '.join(schemes)}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError("bad port") from exc
    if parts.fragment or not value.isascii() or any(ch.isspace() for ch in value):
        raise ValueError("must be plain ASCII without spaces or a fragment")
    return value


class SecuritySettings(OtelSettings):
    """`AUTH_*` and `RATE_LIMIT*`; both off unless `AUTH_ISSUER` or `RATE_LIMIT` is set."""

    auth_issuer: Annotated[
        str,
        Doc(
            "an http:// or https:// URL without credentials, query or fragment, or empty",
            "turns authentication on: business routes need a JWT bearer token from this "
            "OpenID Connect issuer (its `iss`); the keys come from its discovery document",
            "empty (authentication off)",
        ),
    ] = ""
    auth_audience: Annotated[
        str,
        Field(validate_default=True),
        Doc(
            "a printable string without spaces (required when AUTH_ISSUER is set), or empty",
            "the `aud` a token must carry (for Dex, the client id)",
            "empty",
        ),
    ] = ""
    auth_algorithms: Annotated[
        tuple[str, ...],
        NoDecode,
        Doc(
            "a comma-separated list of " + ", ".join(ASYMMETRIC_ALGORITHMS) + " (none and HS* "
            "are refused)",
            "signature algorithms accepted",
            "`RS256,ES256`",
        ),
    ] = ("RS256", "ES256")
    auth_leeway_seconds: Annotated[
        float,
        Field(ge=0, le=300, allow_inf_nan=False),
        Doc("a number of seconds from 0 to 300", "clock skew allowed on `exp`, `iat` and `nbf`"),
    ] = 30.0
    auth_jwks_cache_seconds: Annotated[
        float,
        Field(ge=1, allow_inf_nan=False),
        Doc("a finite number of seconds >= 1", "how often the issuer's keys are refetched"),
    ] = 300.0
    auth_jwks_max_stale_seconds: Annotated[
        float,
        Field(ge=0, allow_inf_nan=False),
        Doc(
            _SECONDS_GE_0,
            "while the issuer cannot be reached, the last keys fetched are used this long past "
            "their refetch time; then requests get 503 with `Retry-After`",
        ),
    ] = 3600.0
    auth_required_scopes: Annotated[
        tuple[str, ...],
        NoDecode,
        Doc(
            "a comma-separated list of scope names, or empty",
            "scopes every token must carry (`scope` or `scp` claim), else 403 `insufficient_scope`",
            "empty",
        ),
    ] = ()
    rate_limit: Annotated[
        str,
        Doc(
            "limits like 100/minute or 10/second;1000/hour, or empty",
            "turns rate limiting on: requests per client (the token's `sub`, else the client "
            "address) on each business route",
            "empty (rate limiting off)",
        ),
    ] = ""
    rate_limit_routes: Annotated[
        dict[str, str],
        NoDecode,
        Doc(
            'a JSON object of route template to limit, like {"/items/{item_id}": "10/second"}',
            "a route's own limit and bucket instead of RATE_LIMIT's (set alone, it limits only "
            "these routes)",
            "`{}`",
        ),
    ] = Field(default_factory=dict)
    rate_limit_storage: Annotated[
        str,
        Doc(
            "memory://, or redis://[user:password@]host[:port][/db] (or rediss://)",
            "where the counters live: each process alone, or one Redis shared by all replicas "
            "(the value is never shown in an error)",
        ),
    ] = "memory://"
    rate_limit_fail_open: Annotated[
        bool,
        Doc(
            TRUE_FALSE,
            "while the storage cannot be reached, serve requests unlimited (`false`: 503)",
        ),
    ] = True

    @field_validator("auth_issuer", mode="after")
    @classmethod
    def _issuer(cls, value: str) -> str:
        if not value:
            return value
        value = _url(value, ("http", "https"))
        parts = urlsplit(value)
        if parts.username is not None or parts.password is not None:
            raise ValueError("credentials in URLs are not supported")
        if parts.query or not parts.hostname or not is_host(parts.hostname):
            raise ValueError("not an issuer URL")
        return value

    @field_validator("auth_audience", mode="after")
    @classmethod
    def _audience(cls, value: str, info: ValidationInfo) -> str:
        if value and (not value.isprintable() or any(ch.isspace() for ch in value)):
            raise ValueError("must be printable without spaces")
        if not value and info.data.get("auth_issuer"):
            raise ValueError("required when AUTH_ISSUER is set")
        return value

    @field_validator("auth_algorithms", mode="before")
    @classmethod
    def _algorithms(cls, value: Any) -> Any:
        value = split_csv(value)
        if not isinstance(value, tuple):
            return value
        if not value:
            raise ValueError("empty")
        for item in value:
            if item.lower() == "none" or item.upper().startswith("HS"):
                raise ValueError(f"{item} is refused: only asymmetric algorithms")
            if item not in ASYMMETRIC_ALGORITHMS:
                raise ValueError(f"unknown algorithm {item!r}")
        return value

    @field_validator("auth_required_scopes", mode="before")
    @classmethod
    def _scopes(cls, value: Any) -> Any:
        value = split_csv(value)
        if isinstance(value, tuple):
            for item in value:
                if not item.isprintable() or " " in item or '"' in item or "\\" in item:
                    raise ValueError(f"bad scope name {item!r}")
        return value

    @field_validator("rate_limit", mode="after")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        if value.strip():
            _limits(value)
        return value.strip()

    @field_validator("rate_limit_routes", mode="before")
    @classmethod
    def _routes_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return {}
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValueError("not a JSON object") from exc
        return value

    @field_validator("rate_limit_routes", mode="after")
    @classmethod
    def _routes(cls, value: dict[str, str]) -> dict[str, str]:
        for template, limit in value.items():
            if not template.startswith("/"):
                raise ValueError(f"{template!r} is not a route template")
            _limits(limit)
        return value

    @field_validator("rate_limit_storage", mode="after")
    @classmethod
    def _storage(cls, value: str) -> str:
        if value == "memory://":
            return value
        value = _url(value, _STORAGE_SCHEMES[1:])
        parts = urlsplit(value)
        if not parts.hostname or not is_host(parts.hostname):
            raise ValueError("bad host")
        return value

    @field_validator(
        "auth_leeway_seconds", "auth_jwks_cache_seconds", "auth_jwks_max_stale_seconds"
    )
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be finite")
        return value

    @property
    def auth_enabled(self) -> bool:
        return bool(self.auth_issuer)

    @property
    def rate_limit_enabled(self) -> bool:
        return bool(self.rate_limit or self.rate_limit_routes)


def parse_limits(value: str) -> tuple[RateLimitItem, ...]:
    """The limits of a RATE_LIMIT-style string (already validated by the settings)."""
    return _limits(value)
