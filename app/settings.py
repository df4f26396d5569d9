"""Typed service settings read from environment variables, validated before anything binds.

An invalid value becomes a `SettingsError` whose message is one readable line naming the
variable, the rejected value and what is allowed; `python -m app` prints it and exits 2.

Tracing is configured by the OpenTelemetry specification's own variables (`OTEL_*`), read
here with the specification's meaning (an empty value is unset, enums ignore case, timeouts
are milliseconds) and checked as strictly as the service's own.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app import __version__

# Hostnames as RFC 1123 labels; IP literals are checked separately with `ipaddress`.
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")
_TRUE_FALSE = "true or false (also 1/0, yes/no, on/off)"
# An HTTP header name (RFC 9110 token); also the form of a W3C baggage key.
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_MILLISECONDS = "an integer number of milliseconds > 0"
_KEY_VALUE_LIST = (
    "a comma-separated list of key=value (keys without spaces, values percent-encoded where "
    "they hold commas), or empty"
)
RATIO_SAMPLERS = frozenset({"traceidratio", "parentbased_traceidratio"})
# The propagators opentelemetry-api ships (OTEL_PROPAGATORS is read by it, at import).
PROPAGATORS = ("tracecontext", "baggage", "none")
# Values that may hold credentials: an error message names them but never repeats them.
SECRET_VARIABLES = frozenset({"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"})

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
    "TRACING_PROBES": _TRUE_FALSE,
    "OTEL_SDK_DISABLED": "true or false (any case), or empty",
    "OTEL_TRACES_EXPORTER": "otlp or none, or empty",
    "OTEL_EXPORTER_OTLP_ENDPOINT": (
        "an http:// or https:// URL without credentials (the base; /v1/traces is appended), "
        "or empty"
    ),
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": (
        "an http:// or https:// URL without credentials (used as is), or empty"
    ),
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf, or empty (grpc and http/json are not built in)",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": (
        "http/protobuf, or empty (grpc and http/json are not built in)"
    ),
    "OTEL_EXPORTER_OTLP_HEADERS": _KEY_VALUE_LIST,
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS": _KEY_VALUE_LIST,
    "OTEL_EXPORTER_OTLP_TIMEOUT": _MILLISECONDS + ", or empty",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": _MILLISECONDS + ", or empty",
    "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip or none, or empty",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip or none, or empty",
    "OTEL_SERVICE_NAME": "a printable name without surrounding spaces, or empty",
    "OTEL_RESOURCE_ATTRIBUTES": _KEY_VALUE_LIST,
    "OTEL_TRACES_SAMPLER": (
        "one of always_on, always_off, traceidratio, parentbased_always_on, "
        "parentbased_always_off, parentbased_traceidratio, or empty"
    ),
    "OTEL_TRACES_SAMPLER_ARG": "a number from 0 to 1 (the ratio of the traceidratio samplers)",
    "OTEL_PROPAGATORS": "a comma-separated list of tracecontext, baggage, or none",
    "OTEL_BSP_SCHEDULE_DELAY": _MILLISECONDS,
    "OTEL_BSP_MAX_QUEUE_SIZE": "an integer > 0",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "an integer > 0, at most OTEL_BSP_MAX_QUEUE_SIZE",
}

Sampler = Literal[
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
]


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


def _validate_otlp_endpoint(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("the scheme must be http or https")
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in URLs are not supported; use the HEADERS variable")
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError("bad port") from exc
    if not parts.hostname or not _is_host(parts.hostname):
        raise ValueError("bad host")
    if parts.fragment or not url.isascii() or any(ch.isspace() for ch in url):
        raise ValueError("must be plain ASCII without spaces or a fragment")
    return url


def _key_values(value: str, *, what: str, secret: bool) -> tuple[tuple[str, str], ...]:
    """Parse the specification's `key=value,...` lists (W3C baggage style, values
    percent-decoded). A value that may be secret is never quoted in an error."""
    pairs: list[tuple[str, str]] = []
    for position, item in enumerate(value.split(","), start=1):
        if not item.strip():
            continue
        key, sep, raw = item.partition("=")
        key = key.strip()
        shown = f"item {position}" if secret else repr(item.strip())
        if not sep:
            raise ValueError(f"{shown} is not key=value")
        if not _TOKEN.match(key):
            raise ValueError(f"{what} {key!r} must be non-empty, without spaces or separators")
        decoded = unquote(raw.strip())
        if not decoded.isprintable():
            raise ValueError(f"the value of {key!r} holds a control character")
        pairs.append((key, decoded))
    return tuple(pairs)


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
    # FastAPI's built-in OpenTelemetry hooks with the global providers, while the service's
    # own tracing (below) is off.
    fastapi_telemetry: bool = False
    # Trace /health, /readiness and /metrics too.
    tracing_probes: bool = False

    # OpenTelemetry, by the specification's variable names (see tracing_enabled).
    otel_sdk_disabled: bool = False
    otel_traces_exporter: Literal["otlp", "none"] | None = None
    otel_exporter_otlp_endpoint: str | None = None
    otel_exporter_otlp_traces_endpoint: str | None = None
    otel_exporter_otlp_protocol: Literal["http/protobuf"] | None = None
    otel_exporter_otlp_traces_protocol: Literal["http/protobuf"] | None = None
    otel_exporter_otlp_headers: Annotated[tuple[tuple[str, str], ...], NoDecode] = ()
    otel_exporter_otlp_traces_headers: Annotated[tuple[tuple[str, str], ...] | None, NoDecode] = (
        None
    )
    otel_exporter_otlp_timeout: Annotated[int, Field(gt=0)] = 10_000
    otel_exporter_otlp_traces_timeout: Annotated[int, Field(gt=0)] | None = None
    otel_exporter_otlp_compression: Literal["gzip", "none"] = "none"
    otel_exporter_otlp_traces_compression: Literal["gzip", "none"] | None = None
    otel_service_name: str | None = None
    otel_resource_attributes: Annotated[tuple[tuple[str, str], ...], NoDecode] = ()
    otel_traces_sampler: Sampler = "parentbased_always_on"
    otel_traces_sampler_arg: float = 1.0
    otel_propagators: Annotated[tuple[str, ...], NoDecode] = ("tracecontext", "baggage")
    otel_bsp_schedule_delay: Annotated[int, Field(gt=0)] = 5_000
    otel_bsp_max_queue_size: Annotated[int, Field(gt=0)] = 2_048
    otel_bsp_max_export_batch_size: Annotated[int, Field(gt=0)] = 512

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
        "otel_traces_exporter",
        "otel_exporter_otlp_protocol",
        "otel_exporter_otlp_traces_protocol",
        "otel_exporter_otlp_compression",
        "otel_exporter_otlp_traces_compression",
        "otel_traces_sampler",
        mode="before",
    )
    @classmethod
    def _otel_enum(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("otel_sdk_disabled", mode="before")
    @classmethod
    def _otel_boolean(cls, value: Any) -> Any:
        # Only true and false: the specification reads any other value as false, which would
        # hide a typo such as OTEL_SDK_DISABLED=1.
        if isinstance(value, str):
            word = value.strip().lower()
            if word not in ("true", "false"):
                raise ValueError("not true or false")
            return word == "true"
        return value

    @field_validator(
        "otel_exporter_otlp_endpoint", "otel_exporter_otlp_traces_endpoint", mode="after"
    )
    @classmethod
    def _otel_endpoint(cls, value: str | None) -> str | None:
        return None if value is None else _validate_otlp_endpoint(value.strip())

    @field_validator(
        "otel_exporter_otlp_headers", "otel_exporter_otlp_traces_headers", mode="before"
    )
    @classmethod
    def _otel_headers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _key_values(value, what="header name", secret=True)
        return value

    @field_validator("otel_resource_attributes", mode="before")
    @classmethod
    def _otel_resource(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _key_values(value, what="attribute key", secret=False)
        return value

    @field_validator("otel_service_name", mode="after")
    @classmethod
    def _otel_service_name(cls, value: str | None) -> str | None:
        if value is not None and (not value.isprintable() or value != value.strip()):
            raise ValueError("must be printable without surrounding spaces")
        return value

    @field_validator("otel_traces_sampler_arg", mode="before")
    @classmethod
    def _otel_sampler_arg(cls, value: Any, info: ValidationInfo) -> Any:
        # Only the ratio samplers take an argument; for the others it is ignored, as specified.
        if isinstance(value, str) and info.data.get("otel_traces_sampler") not in RATIO_SAMPLERS:
            raise PydanticUseDefault()
        return value

    @field_validator("otel_traces_sampler_arg", mode="after")
    @classmethod
    def _otel_ratio(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ValueError("must be from 0 to 1")
        return value

    @field_validator("otel_propagators", mode="before")
    @classmethod
    def _otel_propagators(cls, value: Any) -> Any:
        value = _split_csv(value)
        if isinstance(value, tuple):
            names = tuple(str(item).lower() for item in value)
            for name in names:
                if name not in PROPAGATORS:
                    raise ValueError(f"no propagator {name!r} in this build")
            return names
        return value

    @field_validator("otel_bsp_max_export_batch_size", mode="after")
    @classmethod
    def _otel_batch(cls, value: int, info: ValidationInfo) -> int:
        queue = info.data.get("otel_bsp_max_queue_size")
        if queue is not None and value > queue:
            raise ValueError(f"larger than OTEL_BSP_MAX_QUEUE_SIZE={queue}")
        return value

    # Defined after the other "before" validators so that it runs ahead of them: pydantic
    # calls a field's "before" validators last-defined first.
    @field_validator("*", mode="before")
    @classmethod
    def _otel_empty_is_unset(cls, value: Any, info: ValidationInfo) -> Any:
        # The specification: an empty OTEL_* value means the variable is not set.
        if info.field_name.startswith("otel_") and isinstance(value, str) and not value.strip():
            raise PydanticUseDefault()
        return value

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

    @property
    def tracing_enabled(self) -> bool:
        """Spans are exported when the variables ask for it: OTEL_TRACES_EXPORTER=otlp or an
        OTLP endpoint, and neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none.

        The specification's SDK exports to localhost:4318 unless told otherwise; this
        service exports nothing until it is pointed somewhere.
        """
        if self.otel_sdk_disabled or self.otel_traces_exporter == "none":
            return False
        return self.otel_traces_exporter == "otlp" or bool(
            self.otel_exporter_otlp_endpoint or self.otel_exporter_otlp_traces_endpoint
        )

    @property
    def otlp_traces_endpoint(self) -> str:
        """The traces URL: the per-signal variable as is, else the base with v1/traces."""
        if self.otel_exporter_otlp_traces_endpoint:
            return self.otel_exporter_otlp_traces_endpoint
        base = self.otel_exporter_otlp_endpoint or "http://localhost:4318"
        return f"{base.removesuffix('/')}/v1/traces"

    @property
    def otlp_traces_headers(self) -> dict[str, str]:
        headers = self.otel_exporter_otlp_traces_headers
        return dict(self.otel_exporter_otlp_headers if headers is None else headers)

    @property
    def otlp_traces_timeout_seconds(self) -> float:
        timeout = self.otel_exporter_otlp_traces_timeout
        return (self.otel_exporter_otlp_timeout if timeout is None else timeout) / 1000

    @property
    def otlp_traces_compression(self) -> Literal["gzip", "none"]:
        return self.otel_exporter_otlp_traces_compression or self.otel_exporter_otlp_compression


def _describe(error: dict[str, Any]) -> str:
    variable = str(error["loc"][0]).upper() if error.get("loc") else "?"
    value = error.get("input")
    shown = repr(value if isinstance(value, str) else str(value))
    if variable in SECRET_VARIABLES:
        shown = f"<{len(str(value))} characters, not shown>"
    reason = ""
    if error.get("type") == "value_error":
        # Our own validators explain which item is wrong; pydantic prefixes "Value error, ".
        reason = f" ({str(error.get('msg', '')).removeprefix('Value error, ')})"
    # repr() keeps the line single even when the value carries newlines or control bytes.
    allowed = ALLOWED.get(variable, "see README")
    return f"{variable}={shown} is invalid{reason}; allowed: {allowed}"


def load_settings() -> Settings:
    """Read and validate settings from the environment, or raise a one-line `SettingsError`."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = [_describe(err) for err in exc.errors(include_url=False)]
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
