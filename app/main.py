"""The application factory: `create_app(settings)` wires routes, metrics, probes, CORS and,
when their variables ask for them, authentication, rate limiting and tracing.

Nothing happens at import time; every app instance gets its own metrics registry and probe
state, so tests can build as many as they like.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware import Middleware
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from fastapi.telemetry import TelemetryConfig

from app import __version__
from app.health import PROBE_ENDPOINTS, HealthState, ReadinessChecker
from app.health import add_routes as add_health_routes
from app.metrics import HttpMetrics
from app.middleware import RequestMiddleware
from app.routes import info, items
from app.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the FastAPI application for `settings`; `app.state` exposes health and metrics."""
    state = HealthState()
    metrics = HttpMetrics(version=settings.app_version, env=settings.app_env)
    checker = ReadinessChecker(
        settings.readiness_dependencies,
        timeout=settings.readiness_timeout_seconds,
        cache_seconds=settings.readiness_cache_seconds,
        user_agent=f"{settings.app_name}/{__version__} readiness",
    )

    keys = None
    if settings.auth_enabled:
        # Imported here, like tracing: without them PyJWT, cryptography and limits are never
        # loaded (about 0.3 s of start-up).
        from app.auth import AuthenticateMiddleware, Authenticator, RequireAuthMiddleware
        from app.auth_keys import IssuerKeys

        keys = IssuerKeys(
            settings.auth_issuer,
            cache_seconds=settings.auth_jwks_cache_seconds,
            max_stale_seconds=settings.auth_jwks_max_stale_seconds,
            registry=metrics.registry,
            user_agent=f"{settings.app_name}/{__version__}",
        )

    tracing = None
    if settings.tracing_enabled:
        # Imported here: without tracing the OpenTelemetry SDK is never loaded.
        from app.tracing import Tracing

        tracing = Tracing(settings, metrics.registry)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if tracing is not None:
            tracing.start()
        if keys is not None:
            await keys.start()
        state.started = True
        yield
        state.started = False
        if keys is not None:
            await keys.stop()
        if tracing is not None:
            await tracing.shutdown()

    # First entry is outermost: the request middleware sees every response, CORS preflights
    # included, and nothing (not even a 500) escapes its metrics and access log.
    middleware = [
        Middleware(
            RequestMiddleware,
            metrics=metrics,
            state=state,
            access_log_probes=settings.access_log_probes,
            tracer=tracing.request_tracer if tracing is not None else None,
        )
    ]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "HEAD", "OPTIONS"],
                allow_headers=["*"],
                expose_headers=["X-Request-ID"],
            )
        )

    docs = settings.docs_enabled
    # Never authenticated nor limited: the probes, /metrics and the documentation pages.
    exempt = frozenset(PROBE_ENDPOINTS | ({"/docs", "/redoc", "/openapi.json"} if docs else set()))
    # Authentication records who is asking, the rate limiter counts it against that bucket
    # (a rejected token against its address), and only then is a failed authentication answered.
    if keys is not None:
        authenticator = Authenticator(settings, keys, metrics.registry)
        middleware.append(
            Middleware(AuthenticateMiddleware, authenticator=authenticator, exempt=exempt)
        )
    # Its place: the rate limiter itself is made once the routes exist (below).
    limiter_position = len(middleware)
    if keys is not None:
        middleware.append(
            Middleware(
                RequireAuthMiddleware, required_scopes=frozenset(settings.auth_required_scopes)
            )
        )
    # FastAPI's OpenTelemetry hooks stay off: with tracing on the request middleware makes
    # the spans (app/tracing_span.py), and either way FastAPI asks on every request whether
    # its hooks are active (provider look-ups, ~5 us), a check that with all three signals
    # off ends at the config flags. FASTAPI_TELEMETRY=true, while the service's own tracing
    # is off, keeps FastAPI's defaults (the global providers) instead.
    telemetry: TelemetryConfig | None = {"tracing": False, "metrics": False, "logs": False}
    if tracing is None and settings.fastapi_telemetry:
        telemetry = None
    app = FastAPI(
        telemetry=telemetry,
        title=settings.app_name,
        version=settings.app_version,
        description="Runtime information and items, with probes and Prometheus metrics.",
        lifespan=lifespan,
        middleware=middleware,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.health = state
    app.state.metrics = metrics
    app.state.readiness = checker
    app.state.tracing = tracing
    app.state.issuer_keys = keys

    # Routes are declared on the app itself, not via include_router: see app/routes/__init__.py.
    info.add_routes(app, settings)
    items.add_routes(app)
    add_health_routes(app, state, checker)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        body, content_type = metrics.exposition(request.headers.get("accept", ""))
        return Response(body, headers={"content-type": content_type})

    if settings.rate_limit_enabled:
        from app.ratelimit import RateLimiter, RateLimitMiddleware

        # Starlette builds the middleware stack at the first request, from this list.
        limiter = RateLimiter(settings, app.router.routes, metrics.registry)
        app.user_middleware.insert(
            limiter_position, Middleware(RateLimitMiddleware, limiter=limiter, exempt=exempt)
        )
        app.state.rate_limiter = limiter

    _business_routes_first(app)
    return app


def _business_routes_first(app: FastAPI) -> None:
    """Order the routes by how often they are asked for: business routes, probes, docs.

    Starlette tries an app's routes in order until one matches, a regular-expression match
    each (about 0.6 us under load), and FastAPI puts its docs routes first, at construction.
    No two of this app's paths overlap, so the order changes only the cost of a request:
    the business routes that carry the traffic match first, the probes (a few per minute)
    next, and the docs (read by people) last. A 404 still tries every route. A route whose
    path could overlap another (a catch-all such as `/{path:path}`) belongs after this call,
    where nothing is reordered past it.
    """
    docs = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    docs.discard(None)
    app.router.routes.sort(key=lambda route: getattr(route, "path", None) in docs)
