"""Settings whose default connection is a running sandbox: the one builder the tests share."""

from __future__ import annotations

from typing import Any

from zoomq.sandbox.server import SandboxServer
from zoomq.settings import Settings


def sandbox_settings(sandbox: SandboxServer, redis_url: str, **extra: Any) -> Settings:
    """The sandbox's API, token URL and credentials, this test's Redis, plus ``extra``."""
    return Settings(
        _env_file=None,
        redis_url=redis_url,
        zoom_api_base_url=sandbox.api_base_url,
        zoom_oauth_token_url=sandbox.token_url,
        zoom_account_id="sandbox-account",
        zoom_client_id="sandbox-client",
        zoom_client_secret="sandbox-secret",
        zoom_api_hosts=("127.0.0.1",),
        **extra,
    )
