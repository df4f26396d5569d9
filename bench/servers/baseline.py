"""The baseline: bare FastAPI with the same routes as production-api and no instrumentation.

Run: python -m uvicorn --app-dir bench/servers --no-access-log baseline:app
"""

import socket
import time

from fastapi import FastAPI

_STARTED = time.monotonic()
_HOSTNAME = socket.gethostname()

app = FastAPI(title="baseline")


@app.get("/")
async def root() -> dict:
    return {
        "service": "production-api",
        "env": "development",
        "version": "0.1.0",
        "hostname": _HOSTNAME,
        "uptime_seconds": round(time.monotonic() - _STARTED, 3),
    }


@app.get("/health")
async def health() -> dict:
    return {"status": "ok"}


@app.get("/items/{item_id}")
async def get_item(item_id: int) -> dict:
    return {"item_id": item_id, "name": f"item-{item_id}"}
