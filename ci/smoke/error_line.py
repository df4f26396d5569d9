"""Writes one error line with a real traceback through the app's own logging (smoke step 28).

    PYTHONPATH=/smoke python -m error_line MARKER    (in the app's image, its WORKDIR)

The deployed service has no route that fails on purpose, so the smoke test runs this in a pod of
the app's image: logging configured as `python -m app` configures it, then an exception raised
three calls deep, with MARKER in its message, logged with the call the request middleware makes
for an unhandled exception (`app.error`, `.exception(...)`). One JSON line on stdout, nothing else.
"""

import logging
import sys

from app.logging import configure_logging


def read_item(marker: str) -> None:
    raise RuntimeError(f"smoke test traceback {marker}")


def endpoint(marker: str) -> None:
    read_item(marker)


def serve(marker: str) -> None:
    endpoint(marker)


configure_logging("info", "json")
try:
    serve(sys.argv[1])
except RuntimeError:
    logging.getLogger("app.error").exception(
        "unhandled exception", extra={"method": "GET", "path": "/items/1"}
    )
