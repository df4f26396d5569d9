"""Settings: defaults, accepted spellings, and one test per rejected value per variable.

Over 250 lines because it has one case per variable and rejected value, side by side.
"""

from __future__ import annotations

import pytest

from app import __version__
from app.__main__ import EXIT_BAD_CONFIG, main
from app.settings import ALLOWED, Settings, SettingsError, load_settings
from tests.support.appproc import app_environment

# (variable, bad value): every variable, each kind of mistake an operator makes.
BAD_VALUES = [
    ("APP_NAME", ""),
    ("APP_NAME", "x" * 64),
    ("APP_NAME", " padded "),
    ("APP_ENV", "prod"),
    ("APP_ENV", ""),
    ("APP_VERSION", ""),
    ("APP_VERSION", "1.0\n"),
    ("HOST", "not a host"),
    ("HOST", "-leading-dash"),
    ("PORT", "0"),
    ("PORT", "65536"),
    ("PORT", "http"),
    ("PORT", "80.5"),
    ("LOG_LEVEL", "verbose"),
    ("LOG_LEVEL", "trace"),
    ("LOG_FORMAT", "xml"),
    ("ACCESS_LOG_PROBES", "maybe"),
    ("SHUTDOWN_DRAIN_SECONDS", "-1"),
    ("SHUTDOWN_DRAIN_SECONDS", "nan"),
    ("SHUTDOWN_DRAIN_SECONDS", "5s"),
    ("SHUTDOWN_TIMEOUT_SECONDS", "0"),
    ("SHUTDOWN_TIMEOUT_SECONDS", "inf"),
    ("READINESS_DEPENDENCIES", "postgres://db:5432"),
    ("READINESS_DEPENDENCIES", "tcp://db"),
    ("READINESS_DEPENDENCIES", "tcp://db:99999"),
    ("READINESS_DEPENDENCIES", "http://user:secret@db/health"),
    ("READINESS_DEPENDENCIES", "tcp://ok:1,http://"),
    ("READINESS_TIMEOUT_SECONDS", "0"),
    ("READINESS_TIMEOUT_SECONDS", "-2"),
    ("READINESS_CACHE_SECONDS", "-0.5"),
    ("READINESS_CACHE_SECONDS", "forever"),
    ("CORS_ORIGINS", "example.com"),
    ("CORS_ORIGINS", "https://example.com/path"),
    ("CORS_ORIGINS", "ftp://example.com"),
    ("DOCS_ENABLED", "sometimes"),
    ("FORWARDED_ALLOW_IPS", "10.0.0.300"),
    ("FORWARDED_ALLOW_IPS", ""),
    ("FASTAPI_TELEMETRY", "otel"),
    ("TRACING_PROBES", "sometimes"),
    ("OTEL_SDK_DISABLED", "1"),
    ("OTEL_SDK_DISABLED", "yes"),
    ("OTEL_TRACES_EXPORTER", "jaeger"),
    ("OTEL_TRACES_EXPORTER", "otlp,console"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://collector:4317"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://user:secret@collector:4318"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:99999"),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http:///v1/traces"),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://collector/v1/traces#x"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "0"),
    ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "-5"),
    ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
    ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "deflate"),
    ("OTEL_SERVICE_NAME", " padded "),
    ("OTEL_RESOURCE_ATTRIBUTES", "team"),
    ("OTEL_RESOURCE_ATTRIBUTES", "=payments"),
    ("OTEL_RESOURCE_ATTRIBUTES", "my team=payments"),
    ("OTEL_RESOURCE_ATTRIBUTES", "team=pay%0Aments"),
    ("OTEL_TRACES_SAMPLER", "ratio"),
    ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
    ("OTEL_PROPAGATORS", "b3"),
    ("OTEL_PROPAGATORS", "tracecontext,xray"),
    ("OTEL_BSP_SCHEDULE_DELAY", "0"),
    ("OTEL_BSP_SCHEDULE_DELAY", "5s"),
    ("OTEL_BSP_MAX_QUEUE_SIZE", "-1"),
    ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0"),
]

# The ratio is checked when a ratio sampler reads it (for the others it is ignored).
BAD_RATIOS = ["1.5", "-0.1", "nan", "half", "inf"]
# Header values are credentials: errors name the variable, never repeat the value.
BAD_HEADERS = [
    ("OTEL_EXPORTER_OTLP_HEADERS", "Authorization Bearer s3cr3t"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "x-api key=s3cr3t"),
    ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "Authorization=Bearer%0D%0As3cr3t"),
]


def test_defaults_match_the_contract() -> None:
    settings = load_settings()
    assert settings.app_name == "production-api"
    assert settings.app_env == "development"
    assert settings.app_version == __version__
    assert settings.host == "0.0.0.0"
    assert settings.port == 8080
    assert settings.log_level == "info"
    assert settings.log_format == "json"
    assert settings.access_log_probes is False
    assert settings.shutdown_drain_seconds == 5
    assert settings.shutdown_timeout_seconds == 15
    assert settings.readiness_dependencies == ()
    assert settings.readiness_timeout_seconds == 2
    assert settings.readiness_cache_seconds == 1
    assert settings.cors_origins == ()
    assert settings.docs_enabled is True
    assert settings.forwarded_allow_ips == "127.0.0.1"
    assert settings.fastapi_telemetry is False
    assert settings.tracing_probes is False
    assert settings.tracing_enabled is False
    assert settings.otel_traces_sampler == "parentbased_always_on"
    assert settings.otel_propagators == ("tracecontext", "baggage")
    assert settings.otlp_traces_endpoint == "http://localhost:4318/v1/traces"
    assert settings.otlp_traces_timeout_seconds == 10
    assert settings.otlp_traces_compression == "none"
    assert settings.otlp_traces_headers == {}
    assert (
        settings.otel_bsp_schedule_delay,
        settings.otel_bsp_max_queue_size,
        settings.otel_bsp_max_export_batch_size,
    ) == (5000, 2048, 512)


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "OTLP", "OTEL_SDK_DISABLED": "TRUE"}, False),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
                "OTEL_TRACES_EXPORTER": "none",
            },
            False,
        ),
        ({"OTEL_SERVICE_NAME": "orders", "OTEL_TRACES_SAMPLER": "always_on"}, False),
        ({"OTEL_TRACES_EXPORTER": "", "OTEL_EXPORTER_OTLP_ENDPOINT": " "}, False),
    ],
)
def test_tracing_is_on_only_when_the_variables_ask(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], enabled: bool
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert load_settings().tracing_enabled is enabled


def test_otel_variables_are_read_as_the_specification_defines_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example:4318/otlp/",
        "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20abc,x-tenant=a%2Cb,",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "GZIP",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "HTTP/protobuf",
        "OTEL_SERVICE_NAME": "orders",
        "OTEL_RESOURCE_ATTRIBUTES": " team = payments , k8s.pod.name=api-0 ",
        "OTEL_TRACES_SAMPLER": "ParentBased_TraceIdRatio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_PROPAGATORS": "tracecontext",
        "OTEL_BSP_MAX_QUEUE_SIZE": "100",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "100",
        "OTEL_SDK_DISABLED": "false",
        "TRACING_PROBES": "true",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    assert settings.tracing_enabled is True
    assert settings.otlp_traces_endpoint == "https://collector.example:4318/otlp/v1/traces"
    assert settings.otlp_traces_headers == {"Authorization": "Bearer abc", "x-tenant": "a,b"}
    assert settings.otlp_traces_timeout_seconds == 2.5
    assert settings.otlp_traces_compression == "gzip"
    assert settings.otel_exporter_otlp_protocol == "http/protobuf"
    assert settings.otel_service_name == "orders"
    assert settings.otel_resource_attributes == (("team", "payments"), ("k8s.pod.name", "api-0"))
    assert settings.otel_traces_sampler == "parentbased_traceidratio"
    assert settings.otel_traces_sampler_arg == 0.25
    assert settings.otel_propagators == ("tracecontext",)
    assert settings.otel_bsp_max_export_batch_size == 100
    assert settings.tracing_probes is True


def test_per_signal_variables_win(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4318/custom",
        "OTEL_EXPORTER_OTLP_HEADERS": "a=1",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "b=2",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "1000",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "3000",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "none",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    assert settings.otlp_traces_endpoint == "http://traces:4318/custom"
    assert settings.otlp_traces_headers == {"b": "2"}
    assert settings.otlp_traces_timeout_seconds == 3
    assert settings.otlp_traces_compression == "none"


def test_empty_otel_values_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ALLOWED:
        if name.startswith("OTEL_"):
            monkeypatch.setenv(name, "")
    assert load_settings() == Settings()


def test_sampler_arg_is_ignored_by_samplers_without_a_ratio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "anything")
    assert load_settings().otel_traces_sampler_arg == 1.0


@pytest.mark.parametrize("sampler", ["traceidratio", "parentbased_traceidratio"])
@pytest.mark.parametrize("ratio", BAD_RATIOS)
def test_bad_ratio_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, sampler: str, ratio: str
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", ratio)
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    assert f"OTEL_TRACES_SAMPLER_ARG={ratio!r} is invalid" in str(excinfo.value)
    assert ALLOWED["OTEL_TRACES_SAMPLER_ARG"] in str(excinfo.value)


@pytest.mark.parametrize(("variable", "value"), BAD_HEADERS)
def test_bad_headers_fail_without_showing_the_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert f"{variable}=<{len(value)} characters, not shown> is invalid" in message
    assert "s3cr3t" not in message
    assert "\n" not in message


def test_every_variable_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "APP_NAME": "orders",
        "APP_ENV": "Production",
        "APP_VERSION": "2.3.4",
        "HOST": "::1",
        "PORT": "9000",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "text",
        "ACCESS_LOG_PROBES": "true",
        "SHUTDOWN_DRAIN_SECONDS": "0",
        "SHUTDOWN_TIMEOUT_SECONDS": "2.5",
        "READINESS_DEPENDENCIES": " tcp://db:5432 , https://auth.example.com/healthz,,",
        "READINESS_TIMEOUT_SECONDS": "0.5",
        "READINESS_CACHE_SECONDS": "0",
        "CORS_ORIGINS": "https://a.example.com,http://localhost:3000",
        "DOCS_ENABLED": "false",
        "FORWARDED_ALLOW_IPS": "10.0.0.0/8, 127.0.0.1",
        "FASTAPI_TELEMETRY": "yes",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    assert settings == Settings(
        app_name="orders",
        app_env="production",
        app_version="2.3.4",
        host="::1",
        port=9000,
        log_level="warning",
        log_format="text",
        access_log_probes=True,
        shutdown_drain_seconds=0,
        shutdown_timeout_seconds=2.5,
        readiness_dependencies=("tcp://db:5432", "https://auth.example.com/healthz"),
        readiness_timeout_seconds=0.5,
        readiness_cache_seconds=0,
        cors_origins=("https://a.example.com", "http://localhost:3000"),
        docs_enabled=False,
        forwarded_allow_ips="10.0.0.0/8,127.0.0.1",
        fastapi_telemetry=True,
    )


def test_allowed_text_exists_for_every_setting() -> None:
    assert {name.upper() for name in Settings.model_fields} == set(ALLOWED)


@pytest.mark.parametrize(("variable", "value"), BAD_VALUES)
def test_bad_value_gives_one_line_naming_variable_value_and_allowed(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert "\n" not in message
    assert f"{variable}={value!r}" in message
    assert ALLOWED[variable] in message
    assert "Traceback" not in message


def test_all_bad_variables_are_reported_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "0")
    monkeypatch.setenv("APP_ENV", "qa")
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert "PORT='0'" in message
    assert "APP_ENV='qa'" in message
    assert "\n" not in message


def test_main_exits_2_with_the_message_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "loud")
    assert main() == EXIT_BAD_CONFIG
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert "LOG_LEVEL='loud'" in lines[0]
    assert ALLOWED["LOG_LEVEL"] in lines[0]


def test_server_fixture_scrubs_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server a test starts sees none of the variables set in the calling shell."""
    for name in ALLOWED:
        monkeypatch.setenv(name, "from-the-shell")
    env = app_environment(PORT=8123)
    assert {name: env[name] for name in ALLOWED if name in env} == {
        "HOST": "127.0.0.1",
        "PORT": "8123",
    }
