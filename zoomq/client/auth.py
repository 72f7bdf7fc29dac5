"""OAuth for Zoom as an ``httpx.Auth`` flow over a shared token cache.

- Server-to-Server (``account_credentials``): one access token per connection,
  cached in the token store, refreshed ``margin`` seconds before expiry under a lock
  so that N workers cause one token request; dropped and fetched again once when
  Zoom answers 401 / code 124.
- Authorization code: the refresh token rotates on every refresh. The newest one is
  persisted *before* the new access token is used, and refreshes happen under the
  same lock, so concurrent refreshes never burn each other's token.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

import httpx

from zoomq.client.tokens import Token, TokenStore
from zoomq.clock import Clock, SystemClock
from zoomq.errors import AuthError, RefreshTokenRevoked, TransportError
from zoomq.settings import Connection, ConnectionType, Settings

__all__ = [
    "TOKEN_TIMEOUT",
    "AuthCodeTokens",
    "ServerToServerTokens",
    "TokenProvider",
    "ZoomAuth",
    "bad_token",
    "token_provider",
]

# Zoom error codes that mean "this access token is no good" (ZOOM_API.md §5).
_BAD_TOKEN_CODES = frozenset({124, 4700})
# OAuth-server answers that mean the refresh token is dead (rotated, revoked, expired).
_DEAD_REFRESH_CODES = frozenset({4735, 4741})
_LOCK_TTL = 30.0
_WAIT_STEP = 0.05
#: Token-endpoint calls end well within the refresh lock's lifetime (connect + write + read
#: stay under 30 s), so a lock never expires while its holder is still rotating a token.
TOKEN_TIMEOUT = httpx.Timeout(8.0, connect=3.0)


class TokenProvider(Protocol):
    """Hands out a valid access token and forgets one Zoom refused."""

    def access_token(self) -> str: ...
    def invalidate(self, access_token: str) -> None: ...


class _Base:
    """Shared plumbing: the token endpoint call and the refresh-under-lock loop."""

    kind = "token"

    def __init__(
        self,
        settings: Settings,
        connection: Connection,
        store: TokenStore,
        http: httpx.Client,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.connection = connection
        self.store = store
        self.http = http
        self.clock = clock or SystemClock()
        self.margin = settings.http.token_refresh_margin
        self.key = f"{self.kind}:{connection.name}"
        #: Token-endpoint calls made by this provider (tests and metrics read it).
        self.fetches = 0
        # A process-local copy saves a Redis round trip per request; a 401 clears it.
        self._local: Token | None = None
        # The last token Zoom refused: never handed out again, even if the store still has it.
        self._rejected: str | None = None

    def _post_token(self, data: dict[str, str]) -> dict[str, Any]:
        conn = self.connection
        self.fetches += 1
        try:
            response = self.http.post(
                self.settings.token_url(conn),
                data=data,
                auth=(conn.client_id, conn.client_secret.get_secret_value()),
            )
        except httpx.TransportError as exc:
            raise TransportError(f"token endpoint unreachable: {type(exc).__name__}") from exc
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or "access_token" not in body:
            reason = body.get("reason") or body.get("message") or body.get("error") or response.text
            code = body.get("code")
            dead = data["grant_type"] == "refresh_token" and (
                code in _DEAD_REFRESH_CODES or "invalid token" in str(reason).lower()
            )
            error = RefreshTokenRevoked if dead else AuthError
            raise error(
                f"Zoom token endpoint refused connection {conn.name!r}: {str(reason)[:200]}",
                code=code if isinstance(code, int) else None,
                status=response.status_code,
            )
        return body

    def _token_from(self, body: dict[str, Any], previous: Token | None = None) -> Token:
        expires_in = float(body.get("expires_in", 3600))
        return Token(
            access_token=str(body["access_token"]),
            expires_at=self.clock.time() + expires_in,
            refresh_token=body.get("refresh_token")
            or (previous.refresh_token if previous else None),
            scope=body.get("scope"),
            api_url=body.get("api_url"),
        )

    def _refresh_locked(self, stale: Token | None) -> Token:
        """Subclasses: called while holding the lock; return the new, stored token."""
        raise NotImplementedError

    def _usable(self, token: Token | None, stale: Token | None) -> bool:
        if token is None or not token.fresh(self.clock.time(), self.margin):
            return False
        return stale is None or token.access_token != stale.access_token

    def _refresh(self, stale: Token | None) -> Token:
        deadline = self.clock.monotonic() + _LOCK_TTL * 2
        while True:
            with self.store.lock(self.key, _LOCK_TTL) as held:
                if held:
                    current = self.store.get(self.key)
                    if self._usable(current, stale):
                        assert current is not None
                        return current  # another process refreshed while we queued
                    return self._refresh_locked(current or stale)
            self.clock.sleep(_WAIT_STEP)
            current = self.store.get(self.key)
            if self._usable(current, stale):
                assert current is not None
                return current
            if self.clock.monotonic() > deadline:
                raise AuthError(
                    f"timed out waiting for a token refresh of {self.connection.name!r}"
                )

    def access_token(self) -> str:
        now = self.clock.time()
        local = self._local
        if local is not None and local.fresh(now, self.margin):
            return local.access_token
        current = self.store.get(self.key)
        if (
            current is None
            or not current.fresh(now, self.margin)
            or current.access_token == self._rejected
        ):
            current = self._refresh(current)
        self._local = current
        return current.access_token

    def invalidate(self, access_token: str) -> None:
        self._local = None
        self._rejected = access_token
        self._drop(access_token)

    def _drop(self, access_token: str) -> None:
        raise NotImplementedError


class ServerToServerTokens(_Base):
    """``account_credentials`` tokens, shared through the store by every process."""

    kind = "token"

    def _refresh_locked(self, stale: Token | None) -> Token:
        del stale
        body = self._post_token(
            {"grant_type": "account_credentials", "account_id": self.connection.account_id or ""}
        )
        token = self._token_from(body)
        self.store.set(self.key, token, ttl=max(1.0, token.expires_at - self.clock.time()))
        return token

    def _drop(self, access_token: str) -> None:
        self.store.delete_if(self.key, access_token)


class AuthCodeTokens(_Base):
    """Authorization-code tokens with rotating refresh tokens, persisted in the store."""

    kind = "oauth"

    def exchange_code(self, code: str, redirect_uri: str) -> Token:
        """Trade an authorization code for tokens and store them (the install step)."""
        body = self._post_token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        )
        token = self._token_from(body)
        if not token.refresh_token:
            raise AuthError("Zoom returned no refresh token for the authorization code")
        self.store.set(self.key, token, ttl=None)
        return token

    def installed(self) -> Token | None:
        return self.store.get(self.key)

    def _refresh_locked(self, stale: Token | None) -> Token:
        if stale is None or not stale.refresh_token:
            raise RefreshTokenRevoked(
                f"connection {self.connection.name!r} is not installed: "
                f"run `zoomq connections install {self.connection.name}` and open its link"
            )
        try:
            body = self._post_token(
                {"grant_type": "refresh_token", "refresh_token": stale.refresh_token}
            )
        except AuthError as exc:
            # A process without the lock (lock expired mid-refresh) may have rotated it.
            current = self.store.get(self.key)
            if current is not None and current.refresh_token != stale.refresh_token:
                return current
            if exc.status in (400, 401) and not isinstance(exc, RefreshTokenRevoked):
                raise RefreshTokenRevoked(str(exc), code=exc.code, status=exc.status) from exc
            raise
        token = self._token_from(body, previous=stale)
        # Persist the rotated refresh token before anyone uses the new access token.
        self.store.set(self.key, token, ttl=None)
        return token

    def _drop(self, access_token: str) -> None:
        with self.store.lock(self.key, _LOCK_TTL) as held:
            current = self.store.get(self.key)
            if held and current is not None and current.access_token == access_token:
                self.store.set(self.key, current.expired(), ttl=None)


def token_provider(
    settings: Settings,
    connection: Connection,
    store: TokenStore,
    http: httpx.Client,
    clock: Clock | None = None,
) -> ServerToServerTokens | AuthCodeTokens:
    """The provider for a connection's type."""
    if connection.type is ConnectionType.SERVER_TO_SERVER:
        return ServerToServerTokens(settings, connection, store, http, clock)
    return AuthCodeTokens(settings, connection, store, http, clock)


def _error_code(response: httpx.Response) -> int | None:
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def bad_token(response: httpx.Response) -> bool:
    """Whether a 401 says the access token is no good (so a fresh one may do)."""
    return response.status_code == 401 and _error_code(response) in (*_BAD_TOKEN_CODES, None)


class ZoomAuth(httpx.Auth):
    """Adds the bearer token; on 401/124 drops it and retries once with a fresh one."""

    requires_response_body = True

    def __init__(self, tokens: TokenProvider) -> None:
        self.tokens = tokens

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.tokens.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if bad_token(response):
            self.tokens.invalidate(token)
            request.headers["Authorization"] = f"Bearer {self.tokens.access_token()}"
            yield request
