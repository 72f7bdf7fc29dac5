"""The one wrapper every ``/v2`` endpoint goes through: token, rate limit, body, handler.

Handlers are plain functions ``(Call) -> (status, body)`` that raise
``ZoomHTTPError``; they run under the state lock, so tests may change the state
from another thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from zoomq.sandbox.oauth import AccessToken
from zoomq.sandbox.ratelimits import Category
from zoomq.sandbox.responses import (
    ZoomHTTPError,
    invalid_token,
    json_response,
    no_content,
    validation_failed,
)

if TYPE_CHECKING:
    from zoomq.sandbox.accounts import Account
    from zoomq.sandbox.state import SandboxState
    from zoomq.sandbox.store import Store

__all__ = ["API_PREFIX", "Call", "Handler", "Operation", "Reply", "api_route", "body_object"]

API_PREFIX = "/v2"
QUERY_PARAMETER_MESSAGE = (
    "Invalid access token, this access token is not supported as query parameter string."
)

Reply = tuple[int, Any]


@dataclass(slots=True)
class Call:
    """One API request as a handler sees it: the account is the token's."""

    state: SandboxState
    account: Account
    request: Request
    params: Mapping[str, str]
    query: Mapping[str, str]
    body: Any
    token: AccessToken

    @property
    def store(self) -> Store:
        return self.account.store

    def path_id(self, name: str) -> str:
        """A path parameter, decoded once more if the client double-encoded it."""
        value = self.params[name]
        return unquote(value) if "%" in value else value

    def uuid_id(self, name: str, collection: str, tail: str) -> str | None:
        """An id or UUID between ``/{collection}/`` and ``/{tail}``, as the client meant it.

        Read from the raw path: Zoom wants UUIDs that start with ``/`` or contain
        ``//`` double-encoded, and splits them otherwise; then this is None.
        """
        raw = self.request.scope.get("raw_path")
        if raw:
            path = raw.decode("latin-1")
            start = path.find(f"/{collection}/") + len(collection) + 2
            once = unquote(path[start : path.rfind(f"/{tail}")])
        else:
            once = self.params[name]
        if "%" in once:
            return unquote(once)
        if once.startswith("/") or "//" in once:
            return None
        return once


Handler = Callable[[Call], Reply]


@dataclass(frozen=True, slots=True)
class Operation:
    """One Zoom endpoint: method, path under ``/v2``, rate category, handler."""

    method: str
    path: str
    category: Category
    handler: Handler
    phone: bool = False


def body_object(call: Call) -> dict[str, Any]:
    """The JSON request body, which must be an object (an empty body counts as ``{}``)."""
    if call.body is None:
        return {}
    if not isinstance(call.body, dict):
        raise ZoomHTTPError(400, 300, "Request Body should be a valid JSON object.")
    return call.body


def authenticate(state: SandboxState, request: Request) -> AccessToken:
    header = request.headers.get("authorization")
    if header is None:
        if "access_token" in request.query_params:
            raise invalid_token(QUERY_PARAMETER_MESSAGE)
        raise invalid_token()
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        raise invalid_token()
    token = state.oauth.find(value.strip())
    if token is None:
        raise invalid_token()
    if token.expires_at <= state.clock.time():
        raise invalid_token("Access token is expired.")
    return token


_WITH_BODY = frozenset({"POST", "PATCH", "PUT"})


def api_route(state: SandboxState, op: Operation) -> Route:
    """A Starlette route running ``op`` behind Zoom's auth and the account's rate limits."""
    handler = op.handler
    category = op.category
    phone = op.phone
    reads_body = op.method in _WITH_BODY
    account_of = state.account_of

    async def endpoint(request: Request) -> Response:
        rate_headers: Any = ()
        try:
            token = authenticate(state, request)
        except ZoomHTTPError as error:
            return error.response(rate_headers)
        account = account_of(token.app)
        response = await run(request, token, account)
        account.counted(response.status_code)
        return response

    async def run(request: Request, token: AccessToken, account: Account) -> Response:
        rate_headers: Any = ()
        try:
            limiter = account.limiter
            if limiter.enabled:
                rate_headers = limiter.check(account.account_id, category, phone=phone)
            body: Any = None
            if reads_body:
                raw = await request.body()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise validation_failed(("body", "Invalid JSON.")) from None
            call = Call(
                state, account, request, request.path_params, request.query_params, body, token
            )
            with state.lock:
                status, payload = handler(call)
        except ZoomHTTPError as error:
            return error.response(rate_headers)
        if status == 204:
            return no_content(rate_headers)
        return json_response(payload, status, rate_headers)

    endpoint.__name__ = handler.__name__
    return Route(API_PREFIX + op.path, endpoint, methods=[op.method])
