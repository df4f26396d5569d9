"""Fixtures for the chart tests: the pinned helm binaries."""

from __future__ import annotations

import pytest

from ._helm import HELM_BINARIES, tool


@pytest.fixture(scope="session", params=HELM_BINARIES)
def helm_bin(request: pytest.FixtureRequest) -> str:
    """Each pinned Helm major version in turn."""
    return tool(request.param)


@pytest.fixture(scope="session")
def helm() -> str:
    """The primary Helm, the one users have now: Helm 4."""
    return tool("helm")
