"""The sandbox's Starlette app: ``/v2`` API, ``/oauth``, downloads, ``/_sandbox`` control."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from zoomq.sandbox.api import api_route
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.control import control_routes
from zoomq.sandbox.downloads import download_routes
from zoomq.sandbox.middleware import SandboxMiddleware
from zoomq.sandbox.oauth import oauth_routes
from zoomq.sandbox.responses import json_response
from zoomq.sandbox.routes import OPERATIONS
from zoomq.sandbox.state import SandboxState

__all__ = ["create_sandbox_app", "sandbox_state"]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    body = {"code": exc.status_code, "message": exc.detail}
    return json_response(body, exc.status_code, (exc.headers or {}).items())


def create_sandbox_app(config: SandboxConfig | None = None) -> Starlette:
    """A fresh sandbox; its state is ``app.state.sandbox`` (see ``sandbox_state``)."""
    state = SandboxState(config or SandboxConfig())
    routes = [
        *(api_route(state, op) for op in OPERATIONS),
        *oauth_routes(state.oauth),
        *download_routes(state),
        *control_routes(state),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SandboxMiddleware, state=state)],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.sandbox = state
    return app


def sandbox_state(app: Starlette) -> SandboxState:
    """The state behind an app made by ``create_sandbox_app``."""
    state = app.state.sandbox
    assert isinstance(state, SandboxState)
    return state
