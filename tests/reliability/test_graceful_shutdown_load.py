"""Graceful shutdown of a real `python -m app` under 64 concurrent keep-alive clients.

SIGTERM arrives mid-load. Goal: no request started before the drain ended fails (requests
started within BOUNDARY_SECONDS of its end race the listener closing and are reported
apart), readiness turns 503 at once, the process exits 0 within drain + timeout.
"""

from __future__ import annotations

from ._support.load import BOUNDARY_SECONDS, shutdown_under_load

CLIENTS = 64
DRAIN = 2.0
TIMEOUT = 5.0


def test_sigterm_under_keepalive_load_loses_nothing(start_app, figures):
    app = start_app(SHUTDOWN_DRAIN_SECONDS=DRAIN, SHUTDOWN_TIMEOUT_SECONDS=TIMEOUT)
    result = shutdown_under_load(
        app.proc, app.port, clients=CLIENTS, warmup=2.0, drain_seconds=DRAIN, exit_timeout=40
    )
    figures["shutdown"] = {
        "clients": CLIENTS,
        "drain_seconds": DRAIN,
        "timeout_seconds": TIMEOUT,
        "requests_sent": result.sent,
        "requests_ok": result.ok,
        "requests_sent_after_signal": result.sent_after_signal,
        "requests_ok_after_signal": result.ok_after_signal,
        "requests_failed_total": len(result.failed_at),
        "requests_failed_before_drain_end": result.failed_before_drain_end,
        "requests_failed_at_drain_end_boundary": result.failed_at_boundary,
        "boundary_seconds": BOUNDARY_SECONDS,
        "connects_refused_before_drain_end": result.refused_before_drain_end,
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "signal_to_readiness_503_ms": (
            None
            if result.readiness_503_after is None
            else round(result.readiness_503_after * 1000, 1)
        ),
        "signal_to_exit_seconds": (
            None if result.exit_after is None else round(result.exit_after, 3)
        ),
        "exit_code": result.exit_code,
    }
    assert result.exit_code == 0, app.log_text()[-3000:]
    assert result.ok_after_signal > 0, "nothing was served after SIGTERM: no drain happened"
    assert result.failed_before_drain_end == 0, figures["shutdown"]
    assert result.refused_before_drain_end == 0, figures["shutdown"]
    assert set(result.statuses) == {200}, result.statuses
    assert result.readiness_503_after is not None, "readiness never answered 503 after SIGTERM"
    # Readiness must flip while the app still serves, i.e. well inside the drain window.
    assert result.readiness_503_after < DRAIN
    assert result.exit_after is not None
    assert result.exit_after < DRAIN + TIMEOUT + 5
