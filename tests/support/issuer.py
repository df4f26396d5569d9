"""A real OpenID Connect issuer (Dex) and a real Redis, each on a free 127.0.0.1 port.

`Dex(workdir)` runs `dex-test serve` (built from ci/dex/ by ci/install-tools.sh) with memory
storage, two static clients (`production-api` and `other-client`), one static password user
and the password grant; `token()` asks its token endpoint for an ID token (a JWT whose `aud`
is the client id). Memory storage makes new signing keys at every start, so `restart()` is a
key rotation. `Redis(workdir)` runs Debian's `redis-server` without persistence. Both are
stopped by PID (`stop()`).
"""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.appproc import free_port
from tests.support.tools import tool

CLIENT_ID = "production-api"
OTHER_CLIENT_ID = "other-client"
CLIENT_SECRETS = {CLIENT_ID: "production-api-secret", OTHER_CLIENT_ID: "other-client-secret"}
USER_EMAIL = "alice@example.com"
USER_PASSWORD = "password"  # noqa: S105 - the test user's; the hash below is Dex's example
_USER_HASH = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"
USER_ID = "08a8684b-db88-4b73-90a9-3cd1661f5466"


def _wait_listening(popen: subprocess.Popen[bytes], port: int, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"exited with {popen.returncode}: {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port} within {timeout}s: {log.read_text()}")


def _stop(popen: subprocess.Popen[bytes]) -> None:
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout=15)


class Dex:
    """A running Dex; `issuer` is its issuer URL (what AUTH_ISSUER must say)."""

    def __init__(self, workdir: Path, *, id_token_expiry: str = "1h") -> None:  # noqa: S107
        self.workdir = workdir
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}/dex"
        self.id_token_expiry = id_token_expiry
        self.popen: subprocess.Popen[bytes] | None = None
        self.start()

    def _config(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "storage": {"type": "memory"},
            "web": {"http": f"127.0.0.1:{self.port}"},
            "logger": {"level": "warn"},
            "expiry": {"idTokens": self.id_token_expiry},
            "oauth2": {"passwordConnector": "local", "skipApprovalScreen": True},
            "enablePasswordDB": True,
            "staticClients": [
                {
                    "id": client,
                    "name": client,
                    "secret": secret,
                    "redirectURIs": ["http://127.0.0.1:1/callback"],
                }
                for client, secret in CLIENT_SECRETS.items()
            ],
            "staticPasswords": [
                {
                    "email": USER_EMAIL,
                    "hash": _USER_HASH,
                    "username": "alice",
                    "userID": USER_ID,
                }
            ],
        }

    def start(self) -> None:
        config = self.workdir / f"dex-{self.port}.json"  # Dex reads YAML, of which JSON is a part
        config.write_text(json.dumps(self._config()))
        log = self.workdir / f"dex-{self.port}.log"
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                [tool("dex-test"), "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_listening(self.popen, self.port, log, 30.0)

    def stop(self) -> None:
        if self.popen is not None:
            _stop(self.popen)

    def restart(self) -> None:
        """Stop and start on the same port: memory storage, so new signing keys."""
        self.stop()
        self.start()

    def token(self, client: str = CLIENT_ID, scope: str = "openid email") -> str:
        """An ID token for the static user through the password grant, issued to `client`."""
        body = urllib.parse.urlencode(
            {
                "grant_type": "password",
                "username": USER_EMAIL,
                "password": USER_PASSWORD,
                "scope": scope,
            }
        ).encode()
        basic = base64.b64encode(f"{client}:{CLIENT_SECRETS[client]}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 - a loopback http URL
            f"{self.issuer}/token",
            data=body,
            headers={
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return str(json.load(response)["id_token"])

    def jwks(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.issuer}/keys", timeout=10) as response:  # noqa: S310
            return dict(json.load(response))


class Redis:
    """A running `redis-server` on 127.0.0.1 without persistence; `url` for RATE_LIMIT_STORAGE."""

    def __init__(self, workdir: Path) -> None:
        binary = tool("redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = workdir / f"redis-{self.port}"
        self.dir.mkdir()
        log = self.dir / "redis.log"
        self.popen = subprocess.Popen(
            [
                binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.dir),
                "--save", "",
                "--appendonly", "no",
                "--logfile", str(log),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        log.touch()
        _wait_listening(self.popen, self.port, log, 30.0)

    def stop(self) -> None:
        _stop(self.popen)
