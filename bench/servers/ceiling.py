"""The ceiling: a raw ASGI app answering the same JSON as production-api, no framework.

Run: python -m uvicorn --app-dir bench/servers ceiling:app
"""

import json
import socket
import time

_STARTED = time.monotonic()
_HOSTNAME = socket.gethostname()
_JSON_HEADERS = [(b"content-type", b"application/json")]
_HEALTH = json.dumps({"status": "ok"}, separators=(",", ":")).encode()
_NOT_FOUND = json.dumps({"detail": "Not Found"}, separators=(",", ":")).encode()


def _dump(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


async def _send(send, status: int, body: bytes) -> None:
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/health":
        await _send(send, 200, _HEALTH)
    elif path == "/":
        body = _dump(
            {
                "service": "production-api",
                "env": "development",
                "version": "0.1.0",
                "hostname": _HOSTNAME,
                "uptime_seconds": round(time.monotonic() - _STARTED, 3),
            }
        )
        await _send(send, 200, body)
    elif path.startswith("/items/") and path[7:].isdigit():
        item_id = int(path[7:])
        await _send(send, 200, _dump({"item_id": item_id, "name": f"item-{item_id}"}))
    else:
        await _send(send, 404, _NOT_FOUND)
