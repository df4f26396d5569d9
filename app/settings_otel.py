"""The OpenTelemetry half of the settings: tracing, by the specification's own variables.

`OtelSettings` reads the `OTEL_*` variables with the specification's meaning (an empty value
is unset, enums ignore case, timeouts are milliseconds) and checks them as strictly as the
service's own; `Settings` (app/settings.py) extends it with the service's variables.

Over 250 lines because each of the 20 variables is one annotated field with its
documentation.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.settings_checks import (
    KEY_VALUE_LIST,
    MILLISECONDS,
    Doc,
    Lower,
    Printable,
    key_values,
    split_csv,
    validate_otlp_endpoint,
)

RATIO_SAMPLERS = frozenset({"traceidratio", "parentbased_traceidratio"})
# The propagators opentelemetry-api ships (OTEL_PROPAGATORS is read by it, at import).
PROPAGATORS = ("tracecontext", "baggage", "none")
# Values that may hold credentials: an error message names them but never repeats them.
SECRET_VARIABLES = frozenset({"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"})

Sampler = Literal[
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
]
Compression = Literal["gzip", "none"]
Headers = tuple[tuple[str, str], ...]

_ENDPOINT = "an http:// or https:// URL without credentials"
_PROTOCOL = "http/protobuf, or empty (grpc and http/json are not built in)"
_COMPRESSION = "gzip or none, or empty"


class OtelSettings(BaseSettings):
    """The `OTEL_*` variables; field names map to upper-case variables without a prefix."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    otel_sdk_disabled: Annotated[
        bool,
        Doc("true or false (any case), or empty", "`true` keeps tracing off whatever else is set"),
    ] = False
    otel_traces_exporter: Annotated[
        Literal["otlp", "none"] | None,
        Lower,
        Doc(
            "otlp or none, or empty",
            "`otlp` turns tracing on (to `http://localhost:4318` unless an endpoint is set); "
            "`none` keeps it off whatever else is set",
        ),
    ] = None
    otel_exporter_otlp_endpoint: Annotated[
        str | None,
        Doc(
            f"{_ENDPOINT} (the base; /v1/traces is appended), or empty",
            "the collector's OTLP/HTTP base URL (`/v1/traces` is appended); setting it turns "
            "tracing on",
        ),
    ] = None
    otel_exporter_otlp_traces_endpoint: Annotated[
        str | None,
        Doc(
            f"{_ENDPOINT} (used as is), or empty",
            "the traces URL, used as is; wins over the base URL and turns tracing on too",
        ),
    ] = None
    otel_exporter_otlp_protocol: Annotated[
        Literal["http/protobuf"] | None,
        Lower,
        Doc(_PROTOCOL, "the export protocol (the specification's default)", "`http/protobuf`"),
    ] = None
    otel_exporter_otlp_traces_protocol: Annotated[
        Literal["http/protobuf"] | None,
        Lower,
        Doc(_PROTOCOL, "the same, for traces only", "`OTEL_EXPORTER_OTLP_PROTOCOL`"),
    ] = None
    otel_exporter_otlp_headers: Annotated[
        Headers,
        NoDecode,
        Doc(
            KEY_VALUE_LIST,
            "headers of every export request (credentials: an error message never shows the value)",
        ),
    ] = ()
    otel_exporter_otlp_traces_headers: Annotated[
        Headers | None,
        NoDecode,
        Doc(KEY_VALUE_LIST, "the same, for traces only", "`OTEL_EXPORTER_OTLP_HEADERS`"),
    ] = None
    otel_exporter_otlp_timeout: Annotated[
        int,
        Field(gt=0),
        Doc(MILLISECONDS + ", or empty", "one export, its retries included"),
    ] = 10_000
    otel_exporter_otlp_traces_timeout: Annotated[
        Annotated[int, Field(gt=0)] | None,
        Doc(
            MILLISECONDS + ", or empty", "the same, for traces only", "`OTEL_EXPORTER_OTLP_TIMEOUT`"
        ),
    ] = None
    otel_exporter_otlp_compression: Annotated[
        Compression,
        Lower,
        Doc(_COMPRESSION, "compression of the export requests"),
    ] = "none"
    otel_exporter_otlp_traces_compression: Annotated[
        Compression | None,
        Lower,
        Doc(_COMPRESSION, "the same, for traces only", "`OTEL_EXPORTER_OTLP_COMPRESSION`"),
    ] = None
    otel_service_name: Annotated[
        str | None,
        Printable,
        Doc(
            "a printable name without surrounding spaces, or empty",
            "the `service.name` resource attribute",
            "`APP_NAME`",
        ),
    ] = None
    otel_resource_attributes: Annotated[
        Headers,
        NoDecode,
        Doc(
            KEY_VALUE_LIST,
            "more resource attributes; they may override `service.name`, `service.version` "
            "and `deployment.environment.name` (default: `APP_NAME`, `APP_VERSION`, `APP_ENV`)",
        ),
    ] = ()
    otel_traces_sampler: Annotated[
        Sampler,
        Lower,
        Doc(
            "one of always_on, always_off, traceidratio, parentbased_always_on, "
            "parentbased_always_off, parentbased_traceidratio, or empty",
            "which requests get a span",
        ),
    ] = "parentbased_always_on"
    otel_traces_sampler_arg: Annotated[
        float,
        Doc(
            "a number from 0 to 1 (the ratio of the traceidratio samplers)",
            "the ratio of the two `traceidratio` samplers (ignored by the others)",
        ),
    ] = 1.0
    otel_propagators: Annotated[
        tuple[str, ...],
        NoDecode,
        Doc(
            "a comma-separated list of tracecontext, baggage, or none",
            "formats of the incoming trace context",
        ),
    ] = ("tracecontext", "baggage")
    otel_bsp_schedule_delay: Annotated[
        int, Field(gt=0), Doc(MILLISECONDS, "how often queued spans are sent")
    ] = 5_000
    otel_bsp_max_queue_size: Annotated[
        int,
        Field(gt=0),
        Doc(
            "an integer > 0",
            "spans waiting to be sent (the batch on its way included); beyond it new spans "
            "are dropped and counted",
        ),
    ] = 2_048
    otel_bsp_max_export_batch_size: Annotated[
        int,
        Field(gt=0),
        Doc("an integer > 0, at most OTEL_BSP_MAX_QUEUE_SIZE", "spans per export request"),
    ] = 512

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
        return None if value is None else validate_otlp_endpoint(value.strip())

    @field_validator(
        "otel_exporter_otlp_headers", "otel_exporter_otlp_traces_headers", mode="before"
    )
    @classmethod
    def _otel_headers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return key_values(value, what="header name", secret=True)
        return value

    @field_validator("otel_resource_attributes", mode="before")
    @classmethod
    def _otel_resource(cls, value: Any) -> Any:
        if isinstance(value, str):
            return key_values(value, what="attribute key", secret=False)
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
        value = split_csv(value)
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
    # calls a field's "before" validators last-defined first, and those in the decorators
    # ahead of those in the annotations. "*" reaches the fields of subclasses too, hence
    # the check of the name.
    @field_validator("*", mode="before")
    @classmethod
    def _otel_empty_is_unset(cls, value: Any, info: ValidationInfo) -> Any:
        # The specification: an empty OTEL_* value means the variable is not set.
        if info.field_name.startswith("otel_") and isinstance(value, str) and not value.strip():
            raise PydanticUseDefault()
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
    def otlp_traces_compression(self) -> Compression:
        return self.otel_exporter_otlp_traces_compression or self.otel_exporter_otlp_compression
