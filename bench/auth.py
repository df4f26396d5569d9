"""The authentication variant's issuer and its cost in process.

`start_issuer` runs the tests' Dex (`dex-test`, built from ci/dex/ by ci/install-tools.sh;
tests/support/issuer.py) on a free port and asks it for one ID token (RS256) through the
password grant: the `authenticated` server gets AUTH_ISSUER pointing at it, and wrk sends that
token on every request. `phase_verify_cost` measures, in the harness's own process on the load
core, what `Authenticator.authenticate` costs per call for that token with a full signature
check (the verified-token cache emptied before each call) and from the cache.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import REPO_ROOT  # noqa: F401 (puts the repository on sys.path)
from prometheus_client import CollectorRegistry

from app.auth import Authenticator
from app.auth_keys import IssuerKeys
from app.settings import Settings
from tests.support.issuer import CLIENT_ID, Dex
from tests.support.tools import INSTALL_HINT, find_tool

VERIFY_CALLS = 2000


def start_issuer(out_dir: Path) -> tuple[Dex, str]:
    """Dex on a free loopback port (its files under `out_dir`) and one token it issued."""
    if find_tool("dex-test") is None:
        raise RuntimeError(f"dex-test is not on PATH: {INSTALL_HINT}")
    workdir = Path(tempfile.mkdtemp(prefix="dex-", dir=out_dir))
    dex = Dex(workdir)
    return dex, dex.token()


async def _measure(issuer: str, token: str, calls: int) -> dict[str, Any]:
    registry = CollectorRegistry()
    settings = Settings(auth_issuer=issuer, auth_audience=CLIENT_ID)
    keys = IssuerKeys(
        issuer, cache_seconds=300, max_stale_seconds=0, registry=registry, user_agent="bench"
    )
    await keys.start()
    try:
        authenticator = Authenticator(settings, keys, registry)
        header = f"Bearer {token}".encode()
        t0 = time.perf_counter()
        for _ in range(calls):
            authenticator.forget_verified()
            outcome = await authenticator.authenticate(header)
        verify = (time.perf_counter() - t0) / calls
        assert outcome.reason == "ok", outcome
        t0 = time.perf_counter()
        for _ in range(calls):
            await authenticator.authenticate(header)
        cached = (time.perf_counter() - t0) / calls
    finally:
        await keys.stop()
    return {"calls": calls, "verify_us": verify * 1e6, "cached_us": cached * 1e6}


def phase_verify_cost(issuer: str, token: str, calls: int = VERIFY_CALLS) -> dict[str, Any]:
    return asyncio.run(_measure(issuer, token, calls))
