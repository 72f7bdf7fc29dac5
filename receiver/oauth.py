"""Installing an authorization-code ("OAuth") connection: Zoom's consent page and callback.

``GET /oauth/zoom/install?connection=NAME`` redirects to Zoom's authorize URL with a one-time
``state`` kept in Redis; ``GET /oauth/zoom/callback?code&state`` consumes that state (once)
and trades the code for tokens, which ``AuthCodeTokens`` stores for every worker.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlencode

import structlog
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from receiver.runtime import ReceiverRuntime
from zoomq.client.auth import AuthCodeTokens
from zoomq.client.tokens import RedisTokenStore
from zoomq.errors import AuthError, TransportError
from zoomq.settings import DEFAULT_CONNECTION, Connection, ConnectionType

__all__ = ["oauth_routes"]

log = structlog.get_logger(__name__)


def _error(status: int, error: str) -> Response:
    return JSONResponse({"error": error}, status_code=status)


def oauth_routes(runtime: ReceiverRuntime) -> list[Route]:
    settings = runtime.settings
    state_prefix = f"{runtime.config.key_prefix}:oauth_state:"

    def _oauth_connection(name: str) -> Connection | None:
        conn = runtime.connections.get(name)
        return conn if conn is not None and conn.type is ConnectionType.OAUTH else None

    async def install(request: Request) -> Response:
        name = request.query_params.get("connection") or DEFAULT_CONNECTION
        if name not in runtime.connections:
            return _error(404, "unknown connection")
        conn = _oauth_connection(name)
        if conn is None:
            return _error(400, "not an authorization-code (oauth) connection")
        if runtime.redis is None:
            return _error(503, "not started")
        # Zoom requires the same redirect_uri at the token exchange: store the one used.
        redirect_uri = conn.redirect_uri or str(request.url_for("oauth_callback"))
        state = secrets.token_urlsafe(32)
        record = json.dumps({"connection": name, "redirect_uri": redirect_uri})
        try:
            await runtime.redis.set(
                state_prefix + state, record, ex=runtime.config.oauth_state_ttl, nx=True
            )
        except RedisError as exc:
            log.warning("oauth_install_failed", connection=name, error=type(exc).__name__)
            return _error(503, "state store unavailable")
        authorize = settings.authorize_url(conn)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": conn.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        separator = "&" if "?" in authorize else "?"
        return RedirectResponse(f"{authorize}{separator}{query}", status_code=302)

    def _exchange(conn: Connection, code: str, redirect_uri: str) -> None:
        assert runtime.sync_redis is not None
        assert runtime.http is not None
        tokens = AuthCodeTokens(settings, conn, RedisTokenStore(runtime.sync_redis), runtime.http)
        tokens.exchange_code(code, redirect_uri)

    async def callback(request: Request) -> Response:  # noqa: PLR0911 - one per outcome
        code = request.query_params.get("code")
        state = request.query_params.get("state")
        if not code or not state:
            return _error(400, "code and state are required")
        if runtime.redis is None:
            return _error(503, "not started")
        try:
            raw: Any = await runtime.redis.getdel(state_prefix + state)
        except RedisError as exc:
            log.warning("oauth_callback_failed", error=type(exc).__name__)
            return _error(503, "state store unavailable")
        if raw is None:
            return _error(400, "unknown or expired state")
        record = json.loads(raw)
        name = str(record["connection"])
        conn = _oauth_connection(name)
        if conn is None:
            return _error(400, "the connection of this state is no longer configured")
        try:
            await run_in_threadpool(_exchange, conn, code, str(record["redirect_uri"]))
        except (AuthError, TransportError) as exc:
            log.warning("oauth_exchange_failed", connection=name, error=str(exc))
            return _error(502, str(exc))
        except RedisError as exc:
            log.warning("oauth_token_store_failed", connection=name, error=type(exc).__name__)
            return _error(503, "token store unavailable")
        log.info("oauth_connected", connection=name)
        return PlainTextResponse(f"zoomq: connection {name} is connected. You can close this page.")

    return [
        Route("/oauth/zoom/install", install, methods=["GET"], name="oauth_install"),
        Route("/oauth/zoom/callback", callback, methods=["GET"], name="oauth_callback"),
    ]
