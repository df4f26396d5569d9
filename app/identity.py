"""Who is asking: the outcome of authenticating a request, as the authentication middleware
leaves it in the ASGI scope for the rate limiter and the answer (app/auth.py,
app/ratelimit.py). Kept apart so the rate limiter alone never loads PyJWT."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.types import Scope

# The scope key of the outcome; the claims also go to scope["state"]["auth_claims"].
SCOPE_KEY = "production_api.auth"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of authenticating one request: the claims, or the reason it failed."""

    reason: str
    claims: dict[str, Any] | None = None
    token_sent: bool = True


def client_key(scope: Scope) -> str:
    """The rate limiter's bucket: the token's `sub` when a token was accepted, else the client
    address as uvicorn left it after its proxy-header handling."""
    outcome: Outcome | None = scope.get(SCOPE_KEY)
    if outcome is not None and outcome.claims is not None:
        return "sub:" + str(outcome.claims["sub"])
    client = scope.get("client")
    return "addr:" + (client[0] if client else "unknown")
