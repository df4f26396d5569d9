"""`python -m app`: read settings, configure logging, serve until stopped; exit status 0/2.

Exit status 2 means invalid configuration: one line on stderr, nothing bound.
"""

from __future__ import annotations

import sys

from app.settings import SettingsError, load_settings

EXIT_BAD_CONFIG = 2


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
    server = build_server(create_app(settings), settings)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
