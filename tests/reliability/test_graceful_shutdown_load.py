"""Graceful shutdown of a real `python -m app` under 64 concurrent keep-alive clients.

SIGTERM arrives mid-load. The load model is the one of a pod behind a Kubernetes Service
(tests/reliability/_support/load.py): PROPAGATION_DELAY seconds after readiness first answers
503, clients open no new connection to this server (they would reach another pod: counted
as rerouted); established connections keep sending until a response says
`Connection: close`. Goal: every request sent to this server completes with 200 — 0 failed,
whenever it started — readiness turns 503 at once, the process exits 0 within drain +
timeout.

A second test runs clients that never reroute (as if the pod stayed in the endpoints) and
records what they hit once the listener closes; those figures are information only.
"""

from __future__ import annotations

from ._support.load import LoadResult, shutdown_under_load

CLIENTS = 64
DRAIN = 2.0
TIMEOUT = 5.0
PROPAGATION_DELAY = 0.5


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _common_figures(result: LoadResult) -> dict[str, object]:
    return {
        "clients": CLIENTS,
        "drain_seconds": DRAIN,
        "timeout_seconds": TIMEOUT,
        "requests_sent": result.sent,
        "requests_ok": result.ok,
        "requests_sent_after_signal": result.sent_after_signal,
        "requests_ok_after_signal": result.ok_after_signal,
        "requests_failed": result.failed,
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "signal_to_readiness_503_ms": _ms(result.readiness_503_after),
        "signal_to_exit_seconds": (
            None if result.exit_after is None else round(result.exit_after, 3)
        ),
        "exit_code": result.exit_code,
    }


def test_sigterm_under_keepalive_load_loses_nothing(start_app, figures):
    app = start_app(SHUTDOWN_DRAIN_SECONDS=DRAIN, SHUTDOWN_TIMEOUT_SECONDS=TIMEOUT)
    result = shutdown_under_load(
        app.popen,
        app.port,
        clients=CLIENTS,
        warmup=2.0,
        drain_seconds=DRAIN,
        exit_timeout=40,
        propagation_delay=PROPAGATION_DELAY,
    )
    figures["shutdown"] = {
        **_common_figures(result),
        "propagation_delay_seconds": PROPAGATION_DELAY,
        "signal_to_endpoints_removed_ms": _ms(result.endpoints_removed_after),
        "signal_to_last_request_sent_ms": _ms(result.last_sent_after),
        "clients_rerouted": result.rerouted,
    }
    assert result.exit_code == 0, app.log_text()[-3000:]
    assert result.ok_after_signal > 0, "nothing was served after SIGTERM: no drain happened"
    assert result.failed == 0, figures["shutdown"]
    assert result.sent == result.ok
    assert set(result.statuses) == {200}, result.statuses
    assert result.readiness_503_after is not None, "readiness never answered 503 after SIGTERM"
    # Readiness must flip while the app still serves, i.e. well inside the drain window.
    assert result.readiness_503_after < DRAIN
    # Every client left: the load really moved off this server before it stopped.
    assert result.rerouted == CLIENTS, figures["shutdown"]
    assert result.exit_after is not None
    assert result.exit_after < DRAIN + TIMEOUT + 5


def test_sigterm_with_clients_that_never_reroute(start_app, figures):
    """Without endpoint removal: information only, no zero asserted for refusals or resets."""
    app = start_app(SHUTDOWN_DRAIN_SECONDS=DRAIN, SHUTDOWN_TIMEOUT_SECONDS=TIMEOUT)
    result = shutdown_under_load(
        app.popen,
        app.port,
        clients=CLIENTS,
        warmup=2.0,
        drain_seconds=DRAIN,
        exit_timeout=40,
        reroute=False,
    )
    figures["shutdown_no_reroute"] = {
        **_common_figures(result),
        "requests_failed_started_before_drain_end": result.failed_started(before_drain_end=True),
        "requests_failed_started_after_drain_end": result.failed_started(before_drain_end=False),
        "connects_refused_before_drain_end": result.refused_started(before_drain_end=True),
        "connects_refused_after_drain_end": result.refused_started(before_drain_end=False),
    }
    assert result.exit_code == 0, app.log_text()[-3000:]
    assert result.ok_after_signal > 0
    assert set(result.statuses) == {200}, result.statuses
    # While the listener is open, new connections are accepted.
    assert result.refused_started(before_drain_end=True) == 0, figures["shutdown_no_reroute"]
