"""`GET /`: what is running here (service, environment, version, host, uptime)."""

from __future__ import annotations

import socket
import time

import orjson
from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import BaseModel

from app.settings import Settings


class RuntimeInfo(BaseModel):
    """Documents the shape of `GET /` in the OpenAPI schema."""

    service: str
    env: str
    version: str
    hostname: str
    uptime_seconds: float


def add_routes(app: FastAPI, settings: Settings) -> None:
    hostname = socket.gethostname()
    started = time.monotonic()

    @app.get(
        "/",
        tags=["info"],
        summary="Runtime information",
        response_model=None,
        responses={200: {"model": RuntimeInfo, "description": "What is running here."}},
    )
    async def runtime_info() -> Response:
        # Serialised with orjson straight to bytes: no response-model validation on a
        # payload this service builds itself.
        body = {
            "service": settings.app_name,
            "env": settings.app_env,
            "version": settings.app_version,
            "hostname": hostname,
            "uptime_seconds": round(time.monotonic() - started, 3),
        }
        return Response(orjson.dumps(body), media_type="application/json")
