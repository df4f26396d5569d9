"""The AUTH_* and RATE_LIMIT* settings: defaults, accepted values, one test per rejected value."""

from __future__ import annotations

import pytest

from app.__main__ import EXIT_BAD_CONFIG, main
from app.settings import ALLOWED, SettingsError, load_settings

ISSUER = {"AUTH_ISSUER": "https://login.example.com/realm", "AUTH_AUDIENCE": "orders"}

# (variable, bad value, other variables the case needs)
BAD_VALUES = [
    ("AUTH_ISSUER", "login.example.com", {"AUTH_AUDIENCE": "orders"}),
    ("AUTH_ISSUER", "ftp://login.example.com", {"AUTH_AUDIENCE": "orders"}),
    ("AUTH_ISSUER", "https://user:pw@login.example.com", {"AUTH_AUDIENCE": "orders"}),
    ("AUTH_ISSUER", "https://login.example.com/?realm=x", {"AUTH_AUDIENCE": "orders"}),
    ("AUTH_AUDIENCE", "", {"AUTH_ISSUER": "https://login.example.com"}),
    ("AUTH_AUDIENCE", "two words", ISSUER),
    ("AUTH_ALGORITHMS", "none", ISSUER),
    ("AUTH_ALGORITHMS", "RS256,HS256", ISSUER),
    ("AUTH_ALGORITHMS", "hs512", ISSUER),
    ("AUTH_ALGORITHMS", "RS1", ISSUER),
    ("AUTH_ALGORITHMS", ",", ISSUER),
    ("AUTH_LEEWAY_SECONDS", "-1", {}),
    ("AUTH_LEEWAY_SECONDS", "3600", {}),
    ("AUTH_LEEWAY_SECONDS", "nan", {}),
    ("AUTH_JWKS_CACHE_SECONDS", "0", {}),
    ("AUTH_JWKS_CACHE_SECONDS", "5m", {}),
    ("AUTH_JWKS_MAX_STALE_SECONDS", "-1", {}),
    ("AUTH_JWKS_MAX_STALE_SECONDS", "inf", {}),
    ("AUTH_REQUIRED_SCOPES", 'read "all"', {}),
    ("RATE_LIMIT", "100", {}),
    ("RATE_LIMIT", "100/fortnight", {}),
    ("RATE_LIMIT", "lots", {}),
    ("RATE_LIMIT_ROUTES", "/items=10/second", {}),
    ("RATE_LIMIT_ROUTES", '{"items": "10/second"}', {}),
    ("RATE_LIMIT_ROUTES", '{"/": "often"}', {}),
    ("RATE_LIMIT_FAIL_OPEN", "maybe", {}),
    ("RATE_LIMIT_STORAGE", "memcached://cache:11211", {}),
    ("RATE_LIMIT_STORAGE", "redis://", {}),
]


def test_both_are_off_by_default() -> None:
    settings = load_settings()
    assert (settings.auth_enabled, settings.rate_limit_enabled) == (False, False)
    assert settings.auth_algorithms == ("RS256", "ES256")
    assert settings.auth_leeway_seconds == 30
    assert settings.auth_jwks_cache_seconds == 300
    assert settings.auth_jwks_max_stale_seconds == 3600
    assert settings.auth_required_scopes == ()
    assert settings.rate_limit_routes == {}
    assert settings.rate_limit_storage == "memory://"
    assert settings.rate_limit_fail_open is True


def test_values_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        **ISSUER,
        "AUTH_ALGORITHMS": "ES256, PS256",
        "AUTH_LEEWAY_SECONDS": "0",
        "AUTH_JWKS_CACHE_SECONDS": "60",
        "AUTH_JWKS_MAX_STALE_SECONDS": "0",
        "AUTH_REQUIRED_SCOPES": "orders:read, orders:write",
        "RATE_LIMIT": "10/second;1000/hour",
        "RATE_LIMIT_ROUTES": '{"/items/{item_id}": "5 per second"}',
        "RATE_LIMIT_STORAGE": "rediss://:pw@redis.example.com:6380/2",
        "RATE_LIMIT_FAIL_OPEN": "false",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    assert settings.auth_enabled
    assert settings.rate_limit_enabled
    assert settings.auth_algorithms == ("ES256", "PS256")
    assert settings.auth_required_scopes == ("orders:read", "orders:write")
    assert settings.rate_limit_routes == {"/items/{item_id}": "5 per second"}
    assert settings.rate_limit_storage == "rediss://:pw@redis.example.com:6380/2"
    assert settings.rate_limit_fail_open is False


@pytest.mark.parametrize(("variable", "value", "others"), BAD_VALUES)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, others: dict[str, str]
) -> None:
    for key, other in {**others, variable: value}.items():
        monkeypatch.setenv(key, other)
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert "\n" not in message
    shown = "<" if variable == "RATE_LIMIT_STORAGE" else f"{value!r}"  # may hold a password
    assert f"{variable}={shown}" in message
    assert ALLOWED[variable] in message


def test_the_storage_url_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """It may hold the Redis password."""
    monkeypatch.setenv("RATE_LIMIT_STORAGE", "redis://:s3cr3t@redis:99999/0")
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    assert "RATE_LIMIT_STORAGE=<" in str(excinfo.value)
    assert "s3cr3t" not in str(excinfo.value)


def test_a_route_limit_for_no_route_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the built app knows its route templates: `python -m app` checks them before it
    binds, and exits 2 with one line as for any other bad value."""
    monkeypatch.setenv("RATE_LIMIT", "10/second")
    monkeypatch.setenv("RATE_LIMIT_ROUTES", '{"/itemz/{id}": "1/second"}')
    assert main() == EXIT_BAD_CONFIG
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert "RATE_LIMIT_ROUTES='/itemz/{id}'" in lines[0]
    assert ALLOWED["RATE_LIMIT_ROUTES"] in lines[0]
