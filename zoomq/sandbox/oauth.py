"""Zoom's OAuth server: ``/oauth/token`` (three grants) and ``/oauth/authorize``.

* ``account_credentials`` (Server-to-Server): Basic ``client_id:client_secret``,
  ``account_id`` in the query or the form body; no refresh token.
* ``authorization_code``: a code from ``/oauth/authorize`` (single use, 5 minutes),
  the same ``redirect_uri``; returns a refresh token.
* ``refresh_token``: rotates, every refresh returns a new refresh token and the old
  one is refused afterwards (``{"reason": "Invalid Token!", "error": "invalid_request"}``).

Errors use the OAuth server's ``{"reason", "error"}`` body (ZOOM_API.md §4).
``TokenStore.requests`` counts token requests per grant type (tests assert that
many workers share one token).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from zoomq.clock import Clock
from zoomq.sandbox.config import OAuthApp, SandboxConfig
from zoomq.sandbox.responses import json_response

__all__ = ["AccessToken", "TokenStore", "oauth_routes"]

_PRUNE_AT = 50_000


@dataclass(frozen=True, slots=True)
class AccessToken:
    """An issued access token: whose app, which grant, until when."""

    value: str
    app: OAuthApp
    grant: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class _Code:
    app: OAuthApp
    redirect_uri: str
    expires_at: float


class OAuthFailure(Exception):
    """An OAuth-server refusal: HTTP status and the ``{"reason", "error"}`` body."""

    def __init__(self, status: int, reason: str, error: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.error = error

    def response(self) -> Response:
        return json_response({"reason": self.reason, "error": self.error}, self.status)


def _invalid_client() -> OAuthFailure:
    return OAuthFailure(401, "Invalid client_id or client_secret", "invalid_client")


class TokenStore:
    """Apps, authorization codes, access/refresh/download tokens, and request counters."""

    def __init__(self, config: SandboxConfig, clock: Clock, api_url: str) -> None:
        self.apps = {app.client_id: app for app in config.all_apps}
        self._clock = clock
        self._ttl = config.token_ttl
        self._code_ttl = config.auth_code_ttl
        self._download_ttl = config.download_token_ttl
        self.api_url = api_url
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, OAuthApp] = {}
        self.codes: dict[str, _Code] = {}
        self.download: dict[str, float] = {}
        #: Token requests per ``grant_type`` (failed ones included).
        self.requests: Counter[str] = Counter()
        #: Access tokens issued per grant type.
        self.issued: Counter[str] = Counter()

    def clear(self) -> None:
        for table in (self.access, self.refresh, self.codes, self.download):
            table.clear()
        self.requests.clear()
        self.issued.clear()

    # tokens ------------------------------------------------------------------------

    def find(self, value: str) -> AccessToken | None:
        return self.access.get(value)

    def issue(self, app: OAuthApp, grant: str, *, refresh: bool) -> dict[str, Any]:
        now = self._clock.time()
        if len(self.access) > _PRUNE_AT:
            self.access = {k: v for k, v in self.access.items() if v.expires_at > now}
        token = AccessToken(secrets.token_urlsafe(48), app, grant, now + self._ttl)
        self.access[token.value] = token
        self.issued[grant] += 1
        body: dict[str, Any] = {"access_token": token.value, "token_type": "bearer"}
        if refresh:
            refresh_token = secrets.token_urlsafe(48)
            self.refresh[refresh_token] = app
            body["refresh_token"] = refresh_token
        body.update(expires_in=self._ttl, scope=app.scopes, api_url=self.api_url)
        return body

    def issue_code(self, app: OAuthApp, redirect_uri: str) -> str:
        code = secrets.token_urlsafe(24)
        self.codes[code] = _Code(app, redirect_uri, self._clock.time() + self._code_ttl)
        return code

    def issue_download_token(self, ttl: float | None = None) -> str:
        """A recording download token (as in ``recording.completed``), 24 h by default."""
        token = secrets.token_urlsafe(32)
        self.download[token] = self._clock.time() + (self._download_ttl if ttl is None else ttl)
        return token

    def can_download(self, value: str) -> bool:
        """A live access token or download token."""
        now = self._clock.time()
        access = self.access.get(value)
        if access is not None:
            return access.expires_at > now
        expires = self.download.get(value)
        return expires is not None and expires > now

    # grants ------------------------------------------------------------------------

    def client(self, authorization: str | None) -> OAuthApp:
        """The app named by a Basic ``client_id:client_secret`` header."""
        if not authorization or not authorization[:6].lower() == "basic ":
            raise _invalid_client()
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise _invalid_client() from None
        client_id, sep, secret = decoded.partition(":")
        app = self.apps.get(client_id)
        if not sep or app is None or not secrets.compare_digest(secret, app.client_secret):
            raise _invalid_client()
        return app

    def grant(self, params: dict[str, str], authorization: str | None) -> dict[str, Any]:
        grant = params.get("grant_type", "")
        self.requests[grant or "(missing)"] += 1
        app = self.client(authorization)
        if grant == "account_credentials":
            account_id = params.get("account_id")
            if not account_id:
                raise OAuthFailure(
                    400, "Invalid request : account_id is missing", "invalid_request"
                )
            if account_id != app.account_id:
                raise OAuthFailure(400, "Invalid account_id", "invalid_request")
            return self.issue(app, grant, refresh=False)
        if grant == "authorization_code":
            code = self.codes.pop(params.get("code", ""), None)
            if code is None or code.app is not app or code.expires_at <= self._clock.time():
                raise OAuthFailure(400, "Invalid authorization code", "invalid_request")
            if params.get("redirect_uri", "") != code.redirect_uri:
                raise OAuthFailure(400, "Redirect URI mismatch.", "invalid_request")
            return self.issue(app, grant, refresh=True)
        if grant == "refresh_token":
            value = params.get("refresh_token", "")
            owner = self.refresh.get(value)
            if owner is None or owner is not app:
                raise OAuthFailure(400, "Invalid Token!", "invalid_request")
            del self.refresh[value]  # rotation: the old refresh token is spent
            return self.issue(app, grant, refresh=True)
        raise OAuthFailure(400, "Unsupported grant type", "unsupported_grant_type")

    def authorize(self, params: dict[str, str]) -> str:
        """The redirect location for an authorize request (consent is implied)."""
        if params.get("response_type") != "code":
            raise OAuthFailure(400, "Unsupported response type", "unsupported_response_type")
        app = self.apps.get(params.get("client_id", ""))
        if app is None:
            raise OAuthFailure(400, "Invalid client_id", "invalid_client")
        redirect_uri = params.get("redirect_uri") or (app.redirect_uris or ("",))[0]
        if not redirect_uri or (app.redirect_uris and redirect_uri not in app.redirect_uris):
            raise OAuthFailure(400, "Redirect URI mismatch.", "invalid_request")
        query = {"code": self.issue_code(app, redirect_uri)}
        if params.get("state"):
            query["state"] = params["state"]
        return redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(query)


def oauth_routes(tokens: TokenStore) -> list[Route]:
    async def token(request: Request) -> Response:
        params = dict(request.query_params)
        raw = await request.body()
        if raw:
            params.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        try:
            body = tokens.grant(params, request.headers.get("authorization"))
        except OAuthFailure as failure:
            return failure.response()
        return json_response(body)

    async def authorize(request: Request) -> Response:
        try:
            location = tokens.authorize(dict(request.query_params))
        except OAuthFailure as failure:
            page = f"<html><body><h1>Error</h1><p>{failure.reason}</p></body></html>"
            return HTMLResponse(page, failure.status)
        return RedirectResponse(location, 302)

    return [
        Route("/oauth/token", token, methods=["POST"]),
        Route("/oauth/authorize", authorize, methods=["GET"]),
    ]
