"""Typed service settings read from environment variables, validated before anything binds.

`Settings` is the one source of the service's variables: each field is a variable (its name
in upper case, no prefix), and its `Doc` metadata says what the variable accepts and does.
The error messages and the configuration table in docs/configuration.md
(app/settings_doc.py) are built from those fields. Authentication's and rate limiting's
variables are in `SecuritySettings` (app/settings_security.py), tracing's `OTEL_*` variables in
`OtelSettings` (app/settings_otel.py); `Settings` extends both.

An invalid value becomes a `SettingsError` whose message is one readable line naming the
variable, the rejected value and what is allowed; `python -m app` prints it and exits 2.

Over 250 lines because each of the 18 variables is one annotated field with its
documentation.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import NoDecode

from app import __version__
from app.settings_checks import (
    TRUE_FALSE,
    Doc,
    Lower,
    Printable,
    is_host,
    split_csv,
    validate_dependency,
    validate_origin,
)
from app.settings_otel import SECRET_VARIABLES, OtelSettings, Sampler
from app.settings_security import SecuritySettings

__all__ = ["ALLOWED", "Sampler", "Settings", "SettingsError", "load_settings", "variables"]

_SECONDS_GT_0 = "a finite number of seconds > 0"
_SECONDS_GE_0 = "a finite number of seconds >= 0"


class SettingsError(Exception):
    """Configuration is invalid; `str(error)` is the single line to show the operator."""


class Settings(SecuritySettings):
    """Every knob of the service: its own variables here, authentication's and rate
    limiting's in `SecuritySettings`, tracing's in `OtelSettings`."""

    app_name: Annotated[
        str,
        Field(min_length=1, max_length=63),
        Printable,
        Doc(
            "a non-empty name of at most 63 characters",
            "service name in `GET /` and the OpenAPI title",
        ),
    ] = "production-api"
    app_env: Annotated[
        Literal["development", "staging", "production"],
        Lower,
        Doc(
            "one of development, staging, production",
            "reported in `GET /` and `app_info{env}`",
        ),
    ] = "development"
    app_version: Annotated[
        str,
        Field(min_length=1, max_length=128),
        Printable,
        Doc(
            "a non-empty version string of at most 128 characters",
            "reported in `GET /` and `app_info{version}`",
            "package version (`app.__version__`)",
        ),
    ] = __version__
    host: Annotated[str, Doc("an IP address or hostname to bind", "address to bind")] = "0.0.0.0"
    port: Annotated[
        int,
        Field(ge=1, le=65535),
        Doc("an integer from 1 to 65535", "port for the API, probes and metrics"),
    ] = 8080
    log_level: Annotated[
        Literal["debug", "info", "warning", "error", "critical"],
        Lower,
        Doc("one of debug, info, warning, error, critical", "minimum level logged"),
    ] = "info"
    log_format: Annotated[
        Literal["json", "text"],
        Lower,
        Doc("one of json, text", "one JSON object per line, or one escaped text line"),
    ] = "json"
    access_log_probes: Annotated[
        bool,
        Doc(
            TRUE_FALSE,
            "also access-log `/health`, `/readiness`, `/metrics` at info (otherwise debug)",
        ),
    ] = False
    shutdown_drain_seconds: Annotated[
        float,
        Field(ge=0, allow_inf_nan=False),
        Doc(_SECONDS_GE_0, "after SIGTERM: readiness 503, keep serving with `Connection: close`"),
    ] = 5.0
    shutdown_timeout_seconds: Annotated[
        float,
        Field(gt=0, allow_inf_nan=False),
        Doc(_SECONDS_GT_0, "then: stop accepting, in-flight requests get this long"),
    ] = 15.0
    readiness_dependencies: Annotated[
        tuple[str, ...],
        NoDecode,
        Doc(
            "a comma-separated list of tcp://host:port, http://host[:port][/path] or "
            "https://host[:port][/path] targets (no credentials), or empty",
            "checked by `/readiness` (HTTP: 2xx/3xx is healthy)",
        ),
    ] = ()
    readiness_timeout_seconds: Annotated[
        float,
        Field(gt=0, allow_inf_nan=False),
        Doc(_SECONDS_GT_0, "timeout of each dependency check"),
    ] = 2.0
    readiness_cache_seconds: Annotated[
        float,
        Field(ge=0, allow_inf_nan=False),
        Doc(_SECONDS_GE_0, "a dependency is contacted at most once per interval"),
    ] = 1.0
    cors_origins: Annotated[
        tuple[str, ...],
        NoDecode,
        Doc(
            "a comma-separated list of origins like https://example.com[:port], '*', or empty",
            "origins allowed to call the API from a browser",
            "empty (CORS off)",
        ),
    ] = ()
    docs_enabled: Annotated[bool, Doc(TRUE_FALSE, "serve `/docs`, `/redoc`, `/openapi.json`")] = (
        True
    )
    forwarded_allow_ips: Annotated[
        str,
        Doc(
            "'*' or a comma-separated list of IP addresses or CIDR networks",
            "proxies whose `X-Forwarded-*` headers are trusted",
        ),
    ] = "127.0.0.1"
    fastapi_telemetry: Annotated[
        bool,
        Doc(
            TRUE_FALSE,
            "while the service's own tracing is off: FastAPI's built-in OpenTelemetry hooks "
            "with the global providers, for a process that configures those itself; they "
            "cost time on every request",
        ),
    ] = False
    tracing_probes: Annotated[
        bool,
        Doc(TRUE_FALSE, "with tracing on, also trace `/health`, `/readiness` and `/metrics`"),
    ] = False

    @field_validator("host", mode="after")
    @classmethod
    def _host(cls, value: str) -> str:
        if not is_host(value):
            raise ValueError("not an IP address or hostname")
        return value

    @field_validator("readiness_dependencies", mode="before")
    @classmethod
    def _dependencies(cls, value: Any) -> Any:
        value = split_csv(value)
        if isinstance(value, tuple):
            return tuple(validate_dependency(str(item)) for item in value)
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        value = split_csv(value)
        if isinstance(value, tuple):
            return tuple(validate_origin(str(item)) for item in value)
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


def _doc(name: str, field: FieldInfo) -> Doc:
    for item in field.metadata:
        if isinstance(item, Doc):
            return item
    raise TypeError(f"the settings field {name} has no Doc(allowed, meaning)")


def variables() -> dict[str, tuple[FieldInfo, Doc]]:
    """Every variable the service reads, the service's own first, then authentication's and
    rate limiting's, then tracing's, each with its field and its `Doc`."""
    fields = Settings.model_fields
    own = [name for name in fields if name not in SecuritySettings.model_fields]
    security = [
        name for name in SecuritySettings.model_fields if name not in OtelSettings.model_fields
    ]
    return {
        name.upper(): (fields[name], _doc(name, fields[name]))
        for name in [*own, *security, *OtelSettings.model_fields]
    }


# What each variable accepts, in the words the error message uses: read from the fields.
ALLOWED: Mapping[str, str] = MappingProxyType(
    {name: doc.allowed for name, (_, doc) in variables().items()}
)
_ORDER = {name: position for position, name in enumerate(ALLOWED)}


def _variable(error: dict[str, Any]) -> str:
    return str(error["loc"][0]).upper() if error.get("loc") else "?"


def _describe(error: dict[str, Any]) -> str:
    variable = _variable(error)
    value = error.get("input")
    shown = repr(value if isinstance(value, str) else str(value))
    if variable in SECRET_VARIABLES or variable == "RATE_LIMIT_STORAGE":
        shown = f"<{len(str(value))} characters, not shown>"
    reason = ""
    if error.get("type") == "value_error":
        # Our own validators explain which item is wrong; pydantic prefixes "Value error, ".
        reason = f" ({str(error.get('msg', '')).removeprefix('Value error, ')})"
    # repr() keeps the line single even when the value carries newlines or control bytes.
    allowed = ALLOWED.get(variable, "see docs/configuration.md")
    return f"{variable}={shown} is invalid{reason}; allowed: {allowed}"


def load_settings() -> Settings:
    """Read and validate settings from the environment, or raise a one-line `SettingsError`."""
    try:
        return Settings()
    except ValidationError as exc:
        # In the order of the configuration table: the service's variables, then tracing's.
        errors = sorted(exc.errors(include_url=False), key=lambda e: _ORDER.get(_variable(e), 0))
        problems = [_describe(err) for err in errors]
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
