"""Settings: defaults, accepted spellings, and one test per rejected value per variable."""

from __future__ import annotations

import pytest

from app import __version__
from app.__main__ import EXIT_BAD_CONFIG, main
from app.settings import ALLOWED, Settings, SettingsError, load_settings

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


def test_server_fixture_scrubs_every_setting(app_env_vars: tuple[str, ...]) -> None:
    """tests/conftest.py keeps its own list (it must not import the app); keep them equal."""
    assert set(app_env_vars) == {name.upper() for name in Settings.model_fields}
