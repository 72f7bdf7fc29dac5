"""Fixtures of the worker tests: a sandbox Zoom and settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import Settings


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=3)) as server:
        yield server


@pytest.fixture
def settings(sandbox: SandboxServer, redis_url: str) -> Settings:
    return Settings(
        _env_file=None,
        redis_url=redis_url,
        zoom_api_base_url=sandbox.api_base_url,
        zoom_oauth_token_url=sandbox.token_url,
        zoom_account_id="sandbox-account",
        zoom_client_id="sandbox-client",
        zoom_client_secret="sandbox-secret",
        zoom_api_hosts=("127.0.0.1",),
    )
