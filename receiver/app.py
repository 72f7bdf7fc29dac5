"""The receiver's Starlette application: ``create_app(settings)``."""

from __future__ import annotations

from starlette.applications import Starlette

from receiver.config import ReceiverConfig
from receiver.health import health_routes
from receiver.oauth import oauth_routes
from receiver.runtime import ReceiverRuntime
from receiver.webhooks import webhook_routes
from zoomq.clock import Clock, SystemClock
from zoomq.settings import Settings

__all__ = ["create_app", "create_app_from_environment", "server_config"]


def create_app(
    settings: Settings, config: ReceiverConfig | None = None, *, clock: Clock | None = None
) -> Starlette:
    """The receiver app. Its Redis clients and queue writer start with the ASGI lifespan.

    Raises ``ConfigurationError`` for an unusable connections file: better at start-up than
    at the first webhook. ``app.state.receiver`` is the ``ReceiverRuntime`` (for tests).
    """
    runtime = ReceiverRuntime(
        settings, config or ReceiverConfig.from_settings(settings), clock or SystemClock()
    )
    app = Starlette(
        # Webhook routes first: they are matched in order, and they are the hot path.
        routes=[*webhook_routes(runtime), *health_routes(runtime), *oauth_routes(runtime)],
        lifespan=runtime.lifespan,
    )
    app.state.receiver = runtime
    return app


def create_app_from_environment() -> Starlette:
    """uvicorn factory for ``--workers N``: each worker process reads ``Settings`` itself."""
    settings = Settings()
    return create_app(settings, server_config(settings))


def server_config(settings: Settings) -> ReceiverConfig:
    """The configuration of a receiver that owns its process (CLI, uvicorn factory)."""
    return ReceiverConfig.from_settings(settings, gc_freeze=True)
