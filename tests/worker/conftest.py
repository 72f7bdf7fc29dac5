"""Fixtures of the worker tests: a sandbox Zoom and settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sandbox_settings import sandbox_settings
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import Settings


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=3)) as server:
        yield server


@pytest.fixture
def settings(sandbox: SandboxServer, redis_url: str) -> Settings:
    return sandbox_settings(sandbox, redis_url)
