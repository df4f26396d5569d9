"""`python -m app`: read settings, configure logging, serve until stopped; exit status 0/2.

Exit status 2 means invalid configuration: one line on stderr, nothing bound.
"""

from __future__ import annotations

import gc
import sys

from app.settings import SettingsError, load_settings

EXIT_BAD_CONFIG = 2
# See main(): the cyclic collector runs on this many net allocations instead of 700.
GC_YOUNG_THRESHOLD = 10_000


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"production-api: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG

    # Imported only once the configuration is known to be good: FastAPI, uvicorn and
    # prometheus-client take most of the start-up time, and a bad value should fail fast.
    from prometheus_client import disable_created_metrics

    from app.logging import configure_logging
    from app.main import create_app
    from app.server import build_server

    configure_logging(settings.log_level, settings.log_format)
    # No `*_created` series: in the text format each one is an extra gauge per label set,
    # doubling the series a scrape stores for no use in dashboards or alerts.
    disable_created_metrics()
    try:
        app = create_app(settings)
    except SettingsError as exc:  # a value only the built app can judge (RATE_LIMIT_ROUTES)
        print(f"production-api: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    server = build_server(app, settings)
    # What start-up built (modules, routes, pydantic models, the metrics registry: some 57,000
    # objects) lives as long as the process. In the permanent generation the cyclic garbage
    # collector no longer re-scans it in every full collection; those scans were the pauses
    # behind a p99 twice the bare FastAPI app's under load (bench/RESULTS.md).
    gc.freeze()
    # The young generation is collected once allocations outnumber deallocations by the
    # threshold (700 by default). Every request in flight holds about a hundred tracked
    # objects (scope, coroutines, request, response), so with tens of requests in flight
    # that count is always reached: a collection every ~70 requests, each re-scanning the
    # in-flight objects and promoting them to older generations to be scanned again there,
    # about 2 % of the CPU under load. 10,000 lets about a hundred requests be in flight
    # between collections; cyclic garbage (rare here) waits at most that many allocations.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
