"""Fixtures of the client's tests over real HTTP: a sandbox Zoom and a listener beside it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.client.listener import Listener
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    """A sandbox Zoom without rate limits, shared by a module's tests."""
    with SandboxServer(SandboxConfig(rate_limits=False)) as server:
        yield server


@pytest.fixture
def trap() -> Iterator[Listener]:
    """Another port of 127.0.0.1: the API's host, not its origin; it records what reaches it."""
    with Listener() as listener:
        yield listener
