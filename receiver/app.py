"""The receiver's Starlette application: ``create_app(settings)``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from receiver.health import health_routes
from receiver.jobs import http_error, jobs_routes
from receiver.oauth import oauth_routes
from receiver.runtime import ReceiverRuntime
from receiver.webhooks import webhook_routes
from zoomq.clock import Clock, SystemClock
from zoomq.logs import configure_logging
from zoomq.settings import ReceiverSettings, Settings

__all__ = ["ReceiverApp", "create_app", "create_app_from_environment", "server_config"]

# The default webhook route, with and without a trailing slash (one set lookup).
_DEFAULT_WEBHOOK = frozenset(("/webhooks/zoom", "/webhooks/zoom/"))


class ReceiverApp(Starlette):
    """Starlette, with the default webhook route answered before the middleware stack.

    ``POST /webhooks/zoom`` (or ``/webhooks/zoom/``) is the hot path: going straight to its
    handler skips the router and two middleware layers, about a tenth of the request's CPU
    (bench_receiver). Every other request, and any other method on that path, goes through
    Starlette as usual.
    """

    webhook: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.webhook is not None
            and scope["type"] == "http"
            and scope["path"] in _DEFAULT_WEBHOOK
            and scope["method"] == "POST"
        ):
            scope["app"] = self
            await self.webhook(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings, config: ReceiverSettings | None = None, *, clock: Clock | None = None
) -> ReceiverApp:
    """The receiver app. Its Redis clients and queue writer start with the ASGI lifespan.

    ``config`` replaces ``settings.receiver`` (``server_config`` gives the server's).

    Raises ``ConfigurationError`` for an unusable connections file: better at start-up than
    at the first webhook. ``app.state.receiver`` is the ``ReceiverRuntime`` (for tests).
    """
    runtime = ReceiverRuntime(settings, config or settings.receiver, clock or SystemClock())
    webhooks = webhook_routes(runtime)
    app = ReceiverApp(
        # Webhook routes first: they are matched in order, and they are the hot path.
        routes=[
            *webhooks,
            *health_routes(runtime),
            *oauth_routes(runtime),
            *jobs_routes(runtime),
        ],
        lifespan=runtime.lifespan,
        # /v1 answers JSON for a path or method it does not have, as for every refusal.
        exception_handlers={HTTPException: http_error},
    )
    # No 307 to the slashed or unslashed path: its Location is built from the request's
    # Host header, and the routes that take a trailing slash list it themselves.
    app.router.redirect_slashes = False
    app.webhook = webhooks[0].endpoint
    app.state.receiver = runtime
    return app


def create_app_from_environment() -> ReceiverApp:
    """uvicorn factory for ``--workers N``: each worker process reads ``Settings`` itself.

    It is that process's entry point, so it configures logging (stderr, redacted) too.
    """
    settings = Settings()
    configure_logging(settings.zoomq_log_format, settings.zoomq_log_level)
    return create_app(settings, server_config(settings))


def server_config(settings: Settings) -> ReceiverSettings:
    """The receiver settings of a server that owns its process (CLI, uvicorn factory).

    It freezes the cycle collector unless ``ZOOMQ_GC_FREEZE`` says otherwise.
    """
    config = settings.receiver
    if "gc_freeze" in config.model_fields_set:
        return config
    return config.model_copy(update={"gc_freeze": True})
