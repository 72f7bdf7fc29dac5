"""The one exception tree of zoomq.

::

    ZoomError                         root: everything zoomq raises on purpose
    ├── ConfigurationError            settings or a connection definition are unusable
    ├── InvalidInput                  an action's input failed validation (names the field)
    ├── TransportError                no usable HTTP response (connect/read errors after retries)
    ├── WebhookVerificationError      a webhook's signature/timestamp is wrong (webhooks.errors)
    ├── MalformedWebhook              a webhook body is not Zoom's envelope (webhooks.errors)
    ├── AuthError                     OAuth failed: token endpoint refused, token rejected twice
    │   └── RefreshTokenRevoked       the stored refresh token is no longer valid; re-install
    ├── RateLimited                   wait longer than the client will sleep; the queue retries
    │   └── DailyLimitExceeded        a daily cap; retry at ``reset_at``
    └── APIError                      Zoom answered with an error body
        ├── BadRequest                400 (validation: code 300 and friends)
        │   └── PageTokenExpired      code 300 on a ``next_page_token`` (15 min lifetime)
        ├── Unauthorized              401
        ├── PermissionDenied          403
        ├── NotFound                  404
        ├── Conflict                  409
        ├── ServerError               5xx that outlived the client's brief retries
        └── UnexpectedStatus          3xx (or 1xx): neither success nor error; never followed,
                                      never retried

``RETRYABLE`` and ``NEVER_RETRY`` declare, once, which errors a queue may retry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = [
    "NEVER_RETRY",
    "RETRYABLE",
    "APIError",
    "AuthError",
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "DailyLimitExceeded",
    "InvalidInput",
    "NotFound",
    "PageTokenExpired",
    "PermissionDenied",
    "RateLimited",
    "RefreshTokenRevoked",
    "ServerError",
    "TransportError",
    "Unauthorized",
    "UnexpectedStatus",
    "ZoomError",
]


class ZoomError(Exception):
    """Root of every error zoomq raises on purpose."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description, for CLI output and the dead-letter store."""
        return {"type": type(self).__name__, "message": str(self)}


class ConfigurationError(ZoomError):
    """Settings or a connection definition cannot be used."""


class InvalidInput(ZoomError):
    """An action's input failed validation; ``errors`` names each bad field."""

    def __init__(self, message: str, errors: Sequence[Mapping[str, str]] = ()) -> None:
        super().__init__(message)
        self.errors = [dict(e) for e in errors]

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "errors": self.errors}


class TransportError(ZoomError):
    """No usable HTTP response: connection refused, timeouts, protocol errors."""


class AuthError(ZoomError):
    """OAuth failed: the token endpoint refused us, or Zoom rejected a fresh token."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "code": self.code, "status": self.status}


class RefreshTokenRevoked(AuthError):
    """The stored OAuth refresh token was refused; the connection must be installed again."""


class RateLimited(ZoomError):
    """A rate limit whose wait is longer than the HTTP client will sleep.

    ``retry_after`` is in seconds from now; the queue layer re-schedules the work.
    """

    daily = False

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        category: str | None = None,
        status: int | None = None,
        code: int | None = None,
        tracking_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = max(0.0, retry_after)
        self.category = category
        self.status = status
        self.code = code
        self.tracking_id = tracking_id

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "retry_after": self.retry_after,
            "category": self.category,
            "daily": self.daily,
            "code": self.code,
        }


class DailyLimitExceeded(RateLimited):
    """A daily cap (per account and category, or 100 meeting writes per user): see ``reset_at``."""

    daily = True

    def __init__(
        self,
        message: str,
        *,
        reset_at: datetime,
        retry_after: float,
        category: str | None = None,
        status: int | None = None,
        code: int | None = None,
        tracking_id: str | None = None,
    ) -> None:
        super().__init__(
            message,
            retry_after=retry_after,
            category=category,
            status=status,
            code=code,
            tracking_id=tracking_id,
        )
        self.reset_at = reset_at

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "reset_at": self.reset_at.isoformat()}


class APIError(ZoomError):
    """Zoom answered with an error: HTTP status, Zoom ``code``, ``message``, field ``errors``."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: int | None = None,
        errors: Sequence[Mapping[str, Any]] = (),
        tracking_id: str | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = [dict(e) for e in errors]
        self.tracking_id = tracking_id
        self.method = method
        self.url = url

    def __str__(self) -> str:
        code = f" code {self.code}" if self.code is not None else ""
        return f"Zoom API error {self.status}{code}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "errors": self.errors,
            "tracking_id": self.tracking_id,
            "method": self.method,
            "url": self.url,
        }


class BadRequest(APIError):
    """400: Zoom rejected the request's data (usually code 300)."""


class PageTokenExpired(BadRequest):
    """Code 300 on a ``next_page_token``: tokens live 15 minutes; restart the listing."""


class Unauthorized(APIError):
    """401 that survived one token refresh."""


class PermissionDenied(APIError):
    """403: missing scope, plan or feature."""


class NotFound(APIError):
    """404: unknown user (1001), meeting (3001), recording (3301) and the like."""


class Conflict(APIError):
    """409: e.g. code 1005, the email is already in use."""


class ServerError(APIError):
    """5xx from Zoom that outlived the HTTP client's brief retries; the queue may retry."""


class UnexpectedStatus(APIError):
    """A 3xx (or 1xx) final status: Zoom's API documents none, so the call failed.

    A redirect is never followed (it would take the bearer token along), and retrying
    gets the same answer, so it is not retried and never passes for an empty success.
    """


#: Errors a queue may retry later (with backoff, or at ``retry_after``).
RETRYABLE: tuple[type[ZoomError], ...] = (TransportError, RateLimited, ServerError)

#: Errors that must fail at once: retrying cannot change the answer.
NEVER_RETRY: tuple[type[ZoomError], ...] = (
    ConfigurationError,
    InvalidInput,
    BadRequest,
    PermissionDenied,
    NotFound,
    Conflict,
    UnexpectedStatus,
    RefreshTokenRevoked,
)
