"""Authentication against a real OpenID Connect issuer: Dex on loopback, tokens from its token
endpoint (password grant), a real `python -m app`. Nothing is mocked: the rejected tokens are
real Dex tokens altered the way an attacker would, or signed with Dex's public key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import re
from collections.abc import Callable
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization

from tests.support.appproc import AppProcess
from tests.support.issuer import CLIENT_ID, OTHER_CLIENT_ID, Dex
from tests.support.wait import wait_for

StartApp = Callable[..., AppProcess]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(token: str) -> tuple[dict[str, object], dict[str, object]]:
    header, payload, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
    )


def _request(
    proc: AppProcess, path: str = "/", headers: list[tuple[str, str]] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One GET; `headers` may repeat a name (http.client sends each)."""
    conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=10)
    try:
        conn.putrequest("GET", path)
        for name, value in headers or []:
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def _bearer(proc: AppProcess, token: str, path: str = "/") -> tuple[int, dict[str, str], bytes]:
    return _request(proc, path, [("Authorization", f"Bearer {token}")])


def _metric(proc: AppProcess, name: str, labels: str = "") -> float:
    status, body = proc.get("/metrics")
    assert status == 200
    pattern = re.compile(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", re.MULTILINE)
    match = pattern.search(body.decode())
    return float(match.group(1)) if match else 0.0


def _start(start_app: StartApp, dex: Dex, **env: object) -> AppProcess:
    return start_app(AUTH_ISSUER=dex.issuer, AUTH_AUDIENCE=CLIENT_ID, **env)


def test_a_dex_token_is_accepted_and_probes_stay_open(start_app: StartApp, dex: Dex) -> None:
    proc = _start(start_app, dex)
    token = dex.token()
    status, _, body = _bearer(proc, token)
    assert status == 200, body
    status, _, _ = _bearer(proc, token, "/items/7")
    assert status == 200
    for path in ("/health", "/readiness", "/metrics"):
        assert proc.get(path)[0] == 200, path
    assert _metric(proc, "auth_requests_total", '{reason="ok"}') == 2
    proc.stop()
    assert token not in proc.log_text()
    assert token.split(".")[2] not in proc.log_text()


def test_no_token_gets_a_bare_bearer_challenge(start_app: StartApp, dex: Dex) -> None:
    proc = _start(start_app, dex)
    for headers in ([], [("Authorization", "Basic YWxpY2U6cGFzc3dvcmQ=")]):
        status, response_headers, body = _request(proc, "/items/1", headers)
        assert status == 401
        assert response_headers["www-authenticate"] == "Bearer"
        assert json.loads(body) == {"detail": "Not authenticated"}
    assert _metric(proc, "auth_requests_total", '{reason="missing"}') == 2


def _alg_none(token: str) -> str:
    header, _ = _segments(token)
    return f"{_b64(json.dumps({**header, 'alg': 'none'}).encode())}.{token.split('.')[1]}."


def _hs256_with_public_key(token: str, dex: Dex) -> str:
    """Key confusion: HS256 keyed with the issuer's public key in PEM, as a naive verifier
    that hands the same key to any algorithm would accept."""
    header, _ = _segments(token)
    key = jwt.PyJWK(next(k for k in dex.jwks()["keys"] if k["kid"] == header["kid"]))
    pem = key.key.public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    signing_input = f"{_b64(json.dumps({**header, 'alg': 'HS256'}).encode())}.{token.split('.')[1]}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _bad_signature(token: str) -> str:
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[10] ^= 0xFF
    return f"{head}.{payload}.{_b64(bytes(raw))}"


def _changed_claim(token: str) -> str:
    head, _, signature = token.split(".")
    _, payload = _segments(token)
    return f"{head}.{_b64(json.dumps({**payload, 'sub': 'mallory'}).encode())}.{signature}"


# (how the token is made from a good one, the reason it is counted under)
BAD_TOKENS: dict[str, tuple[Callable[[str, Dex], str], str]] = {
    "another client's token (aud)": (lambda good, dex: dex.token(OTHER_CLIENT_ID), "audience"),
    "alg none": (lambda good, dex: _alg_none(good), "algorithm"),
    "HS256 keyed with the public key": (_hs256_with_public_key, "algorithm"),
    "a flipped signature byte": (lambda good, dex: _bad_signature(good), "signature"),
    "a changed claim": (lambda good, dex: _changed_claim(good), "signature"),
    "a forged kid": (
        lambda good, dex: (
            f"{_b64(json.dumps({**_segments(good)[0], 'kid': 'forged'}).encode())}."
            + ".".join(good.split(".")[1:])
        ),
        "unknown_key",
    ),
}

# Authorization headers an attacker or a broken client sends.
HOSTILE_HEADERS = {
    "oversized": [("Authorization", "Bearer " + "a" * 20_000)],
    "spaces": [("Authorization", "Bearer not a token")],
    "dots": [("Authorization", "Bearer ....")],
    "bad base64": [("Authorization", "Bearer eyJ!.eyJ.x")],
    "bad JSON": [("Authorization", "Bearer " + _b64(b"{") + ".e30.x")],
    "no alg": [("Authorization", "Bearer e30.e30.e30")],
    "latin-1 bytes": [("Authorization", "Bearer caf\xe9.e30.x")],
    "two headers": [("Authorization", "Bearer a.b.c"), ("Authorization", "Bearer d.e.f")],
    "empty token": [("Authorization", "Bearer ")],
    "scheme only": [("Authorization", "Bearer")],
}


def test_bad_tokens_are_refused_with_invalid_token(start_app: StartApp, dex: Dex) -> None:
    proc = _start(start_app, dex)
    good = dex.token()
    for case, (make, reason) in BAD_TOKENS.items():
        before = _metric(proc, "auth_requests_total", f'{{reason="{reason}"}}')
        status, headers, body = _bearer(proc, make(good, dex))
        assert status == 401, (case, body)
        assert headers["www-authenticate"] == 'Bearer error="invalid_token"', case
        assert _metric(proc, "auth_requests_total", f'{{reason="{reason}"}}') == before + 1, case
        assert _bearer(proc, good)[0] == 200, case  # the good token still passes


def test_hostile_authorization_headers_get_401_never_500(start_app: StartApp, dex: Dex) -> None:
    proc = _start(start_app, dex)
    for case, headers in HOSTILE_HEADERS.items():
        status, response_headers, _ = _request(proc, "/", headers)
        assert status == 401, case
        assert response_headers["www-authenticate"].startswith("Bearer"), case
    assert proc.alive()
    proc.stop()
    assert "Traceback" not in proc.log_text()


def test_an_expired_token_is_refused(start_app: StartApp, tmp_path: Path) -> None:
    dex = Dex(tmp_path, id_token_expiry="2s")  # noqa: S106 - a duration, not a password
    try:
        proc = _start(start_app, dex, AUTH_LEEWAY_SECONDS=0)
        token = dex.token()
        assert _bearer(proc, token)[0] == 200
        # A cached verification ends at `exp` too.
        assert wait_for("the token to expire", lambda: _bearer(proc, token)[0] == 401, timeout=15)
        assert _bearer(proc, token)[1]["www-authenticate"] == 'Bearer error="invalid_token"'
        assert _metric(proc, "auth_requests_total", '{reason="expired"}') >= 1
    finally:
        dex.stop()


def test_missing_scopes_get_403_insufficient_scope(start_app: StartApp, dex: Dex) -> None:
    proc = _start(start_app, dex, AUTH_REQUIRED_SCOPES="orders:read")
    status, headers, _ = _bearer(proc, dex.token())
    assert status == 403
    assert headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="orders:read"'


def test_issuer_down_keeps_the_keys_for_a_bounded_time_then_503(
    start_app: StartApp, dex: Dex
) -> None:
    proc = _start(start_app, dex, AUTH_JWKS_CACHE_SECONDS=1, AUTH_JWKS_MAX_STALE_SECONDS=3)
    token = dex.token()
    assert _bearer(proc, token)[0] == 200
    dex.stop()
    assert _bearer(proc, token)[0] == 200  # the last keys fetched are still used
    assert wait_for("the kept keys to run out", lambda: _bearer(proc, token)[0] == 503, timeout=20)
    status, headers, body = _bearer(proc, token)
    assert (status, headers["retry-after"]) == (503, "5"), body
    assert proc.get("/readiness")[0] == 200  # an IdP outage never takes the pod out
    assert _metric(proc, "auth_jwks_fetch_failures_total") >= 1
    assert _metric(proc, "auth_requests_total", '{reason="keys_unavailable"}') >= 1
    dex.start()  # back: the scheduled refresh finds the (new) keys
    assert wait_for(
        "the issuer's new keys", lambda: _bearer(proc, dex.token())[0] == 200, timeout=20
    )


def test_new_keys_are_fetched_for_an_unknown_kid_and_forged_kids_cannot_hammer_the_issuer(
    start_app: StartApp, dex: Dex
) -> None:
    proc = _start(start_app, dex)  # keys refetched every 300 s: only a new kid explains a fetch
    old = dex.token()
    assert _bearer(proc, old)[0] == 200
    assert _metric(proc, "auth_jwks_fetches_total") == 1
    dex.restart()  # memory storage: new signing keys
    new = dex.token()
    assert _segments(new)[0]["kid"] != _segments(old)[0]["kid"]
    assert _bearer(proc, new)[0] == 200
    assert _metric(proc, "auth_jwks_fetches_total") == 2
    assert _bearer(proc, old)[0] == 401  # its key is gone from the issuer's set
    for n in range(20):
        forged = f"{_b64(json.dumps({'alg': 'RS256', 'kid': f'k{n}'}).encode())}.e30.AAAA"
        assert _bearer(proc, forged)[0] == 401
    assert _metric(proc, "auth_jwks_fetches_total") == 2  # within the cooldown: no fetch
