"""Bounded polling, the one loop the tests wait with."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(check: Callable[[], T], timeout: float, interval: float = 0.05) -> T | None:
    """Calls `check` until it returns something truthy and returns that; None after `timeout`
    seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value or None
        time.sleep(interval)


def wait_for(what: str, check: Callable[[], T], timeout: float, interval: float = 0.5) -> T:
    """`poll`, failing the test with `what` and the last value seen after `timeout` seconds."""
    seen: list[T] = []

    def recorded() -> T:
        seen.append(check())
        return seen[-1]

    value = poll(recorded, timeout, interval)
    if value is None:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {seen[-1]!r}")
    return value
