"""Typed service settings read from environment variables, validated before anything binds.

An invalid value becomes a `SettingsError` whose message is one readable line naming the
variable, the rejected value and what is allowed; `python -m app` prints it and exits 2.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app import __version__

# Hostnames as RFC 1123 labels; IP literals are checked separately with `ipaddress`.
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")
_TRUE_FALSE = "true or false (also 1/0, yes/no, on/off)"

# What each variable accepts, in the words the error message uses.
ALLOWED: dict[str, str] = {
    "APP_NAME": "a non-empty name of at most 63 characters",
    "APP_ENV": "one of development, staging, production",
    "APP_VERSION": "a non-empty version string of at most 128 characters",
    "HOST": "an IP address or hostname to bind",
    "PORT": "an integer from 1 to 65535",
    "LOG_LEVEL": "one of debug, info, warning, error, critical",
    "LOG_FORMAT": "one of json, text",
    "ACCESS_LOG_PROBES": _TRUE_FALSE,
    "SHUTDOWN_DRAIN_SECONDS": "a finite number of seconds >= 0",
    "SHUTDOWN_TIMEOUT_SECONDS": "a finite number of seconds > 0",
    "READINESS_DEPENDENCIES": (
        "a comma-separated list of tcp://host:port, http://host[:port][/path] or "
        "https://host[:port][/path] targets (no credentials), or empty"
    ),
    "READINESS_TIMEOUT_SECONDS": "a finite number of seconds > 0",
    "READINESS_CACHE_SECONDS": "a finite number of seconds >= 0",
    "CORS_ORIGINS": (
        "a comma-separated list of origins like https://example.com[:port], '*', or empty"
    ),
    "DOCS_ENABLED": _TRUE_FALSE,
    "FORWARDED_ALLOW_IPS": "'*' or a comma-separated list of IP addresses or CIDR networks",
    "FASTAPI_TELEMETRY": _TRUE_FALSE,
}


class SettingsError(Exception):
    """Configuration is invalid; `str(error)` is the single line to show the operator."""


def _split_csv(value: Any) -> Any:
    """Turn `"a, b,,c"` into `("a", "b", "c")`; other input is left for pydantic to judge."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def _is_host(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return bool(_HOSTNAME.match(value))
    return True


def _validate_dependency(target: str) -> str:
    parts = urlsplit(target)
    if parts.scheme not in ("tcp", "http", "https"):
        raise ValueError(f"unsupported scheme in {target!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in URLs are not supported")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"bad port in {target!r}") from exc
    if not parts.hostname or not _is_host(parts.hostname):
        raise ValueError(f"bad host in {target!r}")
    if parts.scheme == "tcp" and (port is None or port == 0 or parts.path not in ("", "/")):
        raise ValueError(f"{target!r} needs tcp://host:port")
    if not target.isascii() or any(ch.isspace() for ch in target):
        raise ValueError(f"{target!r} must be plain ASCII without spaces")
    return target


def _validate_origin(origin: str) -> str:
    if origin == "*":
        return origin
    parts = urlsplit(origin)
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError(f"bad port in {origin!r}") from exc
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not _is_host(parts.hostname)
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ValueError(f"{origin!r} is not an origin")
    return origin


class Settings(BaseSettings):
    """Every knob of the service. Field names map to upper-case variables without a prefix."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    app_name: Annotated[str, Field(min_length=1, max_length=63)] = "production-api"
    app_env: Literal["development", "staging", "production"] = "development"
    app_version: Annotated[str, Field(min_length=1, max_length=128)] = __version__
    host: str = "0.0.0.0"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    log_format: Literal["json", "text"] = "json"
    access_log_probes: bool = False
    shutdown_drain_seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 5.0
    shutdown_timeout_seconds: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 15.0
    readiness_dependencies: Annotated[tuple[str, ...], NoDecode] = ()
    readiness_timeout_seconds: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 2.0
    readiness_cache_seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1.0
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    docs_enabled: bool = True
    forwarded_allow_ips: str = "127.0.0.1"
    # FastAPI's built-in OpenTelemetry hooks; off unless an OpenTelemetry SDK is added.
    fastapi_telemetry: bool = False

    @field_validator("app_env", "log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        # Operators write INFO as often as info; accept both, store one spelling.
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("app_name", "app_version", mode="after")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable() or value != value.strip():
            raise ValueError("must be printable without surrounding spaces")
        return value

    @field_validator("host", mode="after")
    @classmethod
    def _host(cls, value: str) -> str:
        if not _is_host(value):
            raise ValueError("not an IP address or hostname")
        return value

    @field_validator("readiness_dependencies", mode="before")
    @classmethod
    def _dependencies(cls, value: Any) -> Any:
        value = _split_csv(value)
        if isinstance(value, tuple):
            return tuple(_validate_dependency(str(item)) for item in value)
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        value = _split_csv(value)
        if isinstance(value, tuple):
            return tuple(_validate_origin(str(item)) for item in value)
        return value

    @field_validator("forwarded_allow_ips", mode="after")
    @classmethod
    def _forwarded(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        if not items:
            raise ValueError("empty")
        for item in items:
            if item == "*":
                continue
            ipaddress.ip_network(item, strict=False)  # raises ValueError when malformed
        return ",".join(items)

    @field_validator(
        "shutdown_drain_seconds",
        "shutdown_timeout_seconds",
        "readiness_timeout_seconds",
        "readiness_cache_seconds",
        mode="after",
    )
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be finite")
        return value


def _describe(error: dict[str, Any]) -> str:
    variable = str(error["loc"][0]).upper() if error.get("loc") else "?"
    value = error.get("input")
    shown = value if isinstance(value, str) else str(value)
    reason = ""
    if error.get("type") == "value_error":
        # Our own validators explain which item is wrong; pydantic prefixes "Value error, ".
        reason = f" ({str(error.get('msg', '')).removeprefix('Value error, ')})"
    # repr() keeps the line single even when the value carries newlines or control bytes.
    allowed = ALLOWED.get(variable, "see README")
    return f"{variable}={shown!r} is invalid{reason}; allowed: {allowed}"


def load_settings() -> Settings:
    """Read and validate settings from the environment, or raise a one-line `SettingsError`."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = [_describe(err) for err in exc.errors(include_url=False)]
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
