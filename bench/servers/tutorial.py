"""The tutorial style: bare FastAPI plus the metrics middleware most guides show.

`@app.middleware("http")` (Starlette's BaseHTTPMiddleware under the hood) and Prometheus labels
taken from the raw request path, on the default global registry. This is what production-api
is compared against; it is deliberately NOT how production-api does it.

Run: python -m uvicorn --app-dir bench/servers --no-access-log tutorial:app
"""

import socket
import time

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

_STARTED = time.monotonic()
_HOSTNAME = socket.gethostname()

REQUEST_COUNT = Counter(
    "http_requests_total", "Total HTTP requests", ["method", "endpoint", "status"]
)
REQUEST_LATENCY = Histogram(
    "http_request_duration_seconds", "HTTP request latency", ["method", "endpoint"]
)

app = FastAPI(title="tutorial")


@app.middleware("http")
async def prometheus_middleware(request: Request, call_next):
    start = time.perf_counter()
    response = await call_next(request)
    elapsed = time.perf_counter() - start
    REQUEST_COUNT.labels(request.method, request.url.path, response.status_code).inc()
    REQUEST_LATENCY.labels(request.method, request.url.path).observe(elapsed)
    return response


@app.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


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
