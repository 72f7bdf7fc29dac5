"""Installing an authorization-code ("OAuth") connection: Zoom's consent page and callback.

Only an operator starts an install: ``zoomq connections install NAME`` stores a one-time
grant and prints ``/oauth/zoom/install?token=T`` (``zoomq.client.install``). That route
redeems the grant (once) and redirects to Zoom's authorize URL with a fresh ``state`` bound
to it; ``/oauth/zoom/callback?code&state`` consumes that state (once) and trades the code
for tokens, which ``AuthCodeTokens`` stores for every worker. A request without a valid
token or state writes nothing to Redis.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any, Literal
from urllib.parse import urlencode

import structlog
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from receiver.runtime import ReceiverRuntime
from zoomq.client.auth import AuthCodeTokens
from zoomq.client.install import (
    CALLBACK_PATH,
    INSTALL_PATH,
    MAX_TOKEN_LENGTH,
    InstallGrant,
    grant_key,
    state_key,
)
from zoomq.client.tokens import RedisTokenStore
from zoomq.errors import AuthError, TransportError
from zoomq.settings import Connection, ConnectionType

__all__ = ["oauth_routes"]

log = structlog.get_logger(__name__)

#: The token store's lock is held from the "already installed?" check to the stored tokens,
#: so nothing lands in between; the token request ends well within it (``TOKEN_TIMEOUT``).
_LOCK_TTL = 30.0
#: How long a callback waits for a worker's token refresh holding that lock.
_LOCK_WAIT = 5.0
_LOCK_STEP = 0.05

_NO_LINK = "token is required: run `zoomq connections install NAME` and open the link it prints"
_BAD_LINK = (
    "token is unknown, expired or already used: run `zoomq connections install NAME` for a new link"
)

_OTHER_BROWSER = (
    "this install was started in another browser: open the link from "
    "`zoomq connections install NAME` and finish it in the same browser"
)
#: Binds a started install to the browser that opened the link (HttpOnly, this path only).
_BROWSER_COOKIE = "zoomq_oauth_install"

Outcome = Literal["installed", "exists", "busy"]


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _error(status: int, error: str) -> Response:
    return JSONResponse({"error": error}, status_code=status)


class _OAuthInstall:
    """The two routes over one runtime."""

    def __init__(self, runtime: ReceiverRuntime) -> None:
        self.runtime = runtime
        self.prefix = runtime.keys.prefix

    async def install(self, request: Request) -> Response:  # noqa: PLR0911 - one per outcome
        runtime = self.runtime
        token = request.query_params.get("token")
        if not token:
            return _error(403, _NO_LINK)
        if len(token) > MAX_TOKEN_LENGTH:
            return _error(403, _BAD_LINK)
        if runtime.redis is None:
            return _error(503, "not started")
        try:
            # Taken out, not read: of two requests with one token, one gets the grant.
            raw: Any = await runtime.redis.getdel(grant_key(self.prefix, token))
        except RedisError as exc:
            log.warning("oauth_install_failed", error=type(exc).__name__)
            return _error(503, "state store unavailable")
        if raw is None:
            return _error(403, _BAD_LINK)
        try:
            grant = InstallGrant.loads(raw)
        except ValueError:
            log.warning("oauth_install_bad_grant")
            return _error(403, _BAD_LINK)
        name = grant.connection
        conn = runtime.connections.get(name)
        if conn is None:
            return _error(404, f"connection {name!r} is not configured on this receiver")
        if conn.type is not ConnectionType.OAUTH:
            return _error(400, f"connection {name!r} is not an authorization-code (oauth) one")
        # Zoom requires the same redirect_uri at the token exchange: store the one used.
        redirect_uri = conn.redirect_uri or str(request.url_for("oauth_callback"))
        state = secrets.token_urlsafe(32)
        browser = secrets.token_urlsafe(32)  # the callback must come back to this browser
        record = json.dumps(
            {
                "connection": name,
                "redirect_uri": redirect_uri,
                "replace": grant.replace,
                "browser": _digest(browser),
            }
        )
        try:
            await runtime.redis.set(
                state_key(self.prefix, state), record, ex=runtime.config.oauth_state_ttl, nx=True
            )
        except RedisError as exc:
            log.warning("oauth_install_failed", connection=name, error=type(exc).__name__)
            return _error(503, "state store unavailable")
        log.info("oauth_install_started", connection=name, replace=grant.replace)
        authorize = runtime.settings.authorize_url(conn)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": conn.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        separator = "&" if "?" in authorize else "?"
        response = RedirectResponse(f"{authorize}{separator}{query}", status_code=302)
        response.set_cookie(
            _BROWSER_COOKIE,
            browser,
            max_age=runtime.config.oauth_state_ttl,
            path=CALLBACK_PATH,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",  # sent on Zoom's top-level redirect back to the callback
        )
        return response

    def _exchange(self, conn: Connection, code: str, redirect_uri: str, replace: bool) -> Outcome:
        """Store the code's tokens, unless the connection has some and ``replace`` is off."""
        runtime = self.runtime
        assert runtime.sync_redis is not None
        assert runtime.http is not None
        store = RedisTokenStore(runtime.sync_redis, runtime.keys.prefix)
        tokens = AuthCodeTokens(runtime.settings, conn, store, runtime.http)
        deadline = runtime.clock.monotonic() + _LOCK_WAIT
        while True:
            with store.lock(tokens.key, _LOCK_TTL) as held:
                if held:
                    if not replace and tokens.installed() is not None:
                        return "exists"  # the code is never exchanged: Zoom issues nothing
                    tokens.exchange_code(code, redirect_uri)
                    return "installed"
            if runtime.clock.monotonic() > deadline:
                return "busy"
            runtime.clock.sleep(_LOCK_STEP)

    async def callback(self, request: Request) -> Response:  # noqa: PLR0911 - one per outcome
        runtime = self.runtime
        code = request.query_params.get("code")
        state = request.query_params.get("state")
        if not code or not state:
            return _error(400, "code and state are required")
        if len(state) > MAX_TOKEN_LENGTH:
            return _error(400, "unknown or expired state")
        if runtime.redis is None:
            return _error(503, "not started")
        key = state_key(self.prefix, state)
        try:
            raw: Any = await runtime.redis.get(key)
            if raw is None:
                return _error(400, "unknown or expired state")
            record = json.loads(raw)
            # A state seen elsewhere (a log, a shared screen) cannot finish the install from
            # another browser, and a refused attempt does not spend the operator's state.
            cookie = request.cookies.get(_BROWSER_COOKIE, "")
            if not hmac.compare_digest(_digest(cookie), str(record.get("browser", ""))):
                log.warning("oauth_callback_refused", reason="other browser")
                return _error(403, _OTHER_BROWSER)
            if await runtime.redis.getdel(key) is None:  # another request just used it
                return _error(400, "unknown or expired state")
        except RedisError as exc:
            log.warning("oauth_callback_failed", error=type(exc).__name__)
            return _error(503, "state store unavailable")
        name = str(record["connection"])
        conn = runtime.connections.get(name)
        if conn is None or conn.type is not ConnectionType.OAUTH:
            return _error(400, "the connection of this state is no longer configured")
        replace = record.get("replace") is True
        try:
            outcome = await run_in_threadpool(
                self._exchange, conn, code, str(record["redirect_uri"]), replace
            )
        except (AuthError, TransportError) as exc:
            log.warning("oauth_exchange_failed", connection=name, error=str(exc))
            return _error(502, str(exc))
        except RedisError as exc:
            log.warning("oauth_token_store_failed", connection=name, error=type(exc).__name__)
            return _error(503, "token store unavailable")
        if outcome == "exists":
            log.warning("oauth_install_refused", connection=name, reason="already installed")
            return _error(
                409,
                f"connection {name!r} already has tokens; to replace them run "
                f"`zoomq connections install {name} --replace`",
            )
        if outcome == "busy":
            return _error(
                409,
                f"connection {name!r} is being refreshed or installed; "
                f"run `zoomq connections install {name}` again",
            )
        log.info("oauth_connected", connection=name, replaced=replace)
        return PlainTextResponse(f"zoomq: connection {name} is connected. You can close this page.")


def oauth_routes(runtime: ReceiverRuntime) -> list[Route]:
    routes = _OAuthInstall(runtime)
    return [
        Route(INSTALL_PATH, routes.install, methods=["GET"], name="oauth_install"),
        Route(CALLBACK_PATH, routes.callback, methods=["GET"], name="oauth_callback"),
    ]
