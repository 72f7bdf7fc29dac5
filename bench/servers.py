"""Baseline servers for benchmarks: the smallest app that answers like Zoom does."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_USER = b'{"id":"u1","email":"bench@example.com","type":1,"status":"active"}'


async def token(_: Request) -> Response:
    return JSONResponse({"access_token": "bench-token", "token_type": "bearer", "expires_in": 3600})


async def api(_: Request) -> Response:
    return Response(_USER, media_type="application/json")


async def bare(_: Request) -> Response:
    return Response(b"", status_code=200)


app = Starlette(
    routes=[
        Route("/oauth/token", token, methods=["POST"]),
        Route("/v2/{path:path}", api, methods=["GET", "POST", "PATCH", "DELETE"]),
        Route("/", bare, methods=["GET", "POST"]),
    ]
)


def sandbox_app() -> Starlette:
    """The sandbox Zoom with rate limits off, for ``uvicorn --factory``."""
    from zoomq.sandbox.app import create_sandbox_app
    from zoomq.sandbox.config import SandboxConfig

    return create_sandbox_app(SandboxConfig(rate_limits=False))
