"""The one exception tree of zoomq, and the one table of what each layer does with it.

Each class with the row of ``HANDLING`` that applies to it (its own, else its nearest
ancestor's). ``client``: what ``ZoomClient`` does before it raises — ``retry`` briefly
(connect errors, 5xx, a 429 short enough to sleep) or ``raise``. ``queue``: what a task
that raised it does — ``backoff`` (full jitter), ``wait`` (``retry_after``), ``park``
(until ``reset_at``), ``restart_listing`` (run again from the first page), ``refresh``
(one more attempt on fresh credentials), or ``give_up`` (the dead letters)::

    class                             client  queue            why
    ZoomError                         raise   backoff          root: all zoomq raises on purpose
    ├── ConfigurationError            raise   give_up          settings or a connection unusable
    │   └── RulesError                raise   give_up          the rules file: names rule and field
    ├── InvalidInput                  raise   give_up          action input invalid (names field)
    │   ├── TemplateError             raise   give_up          template malformed, or path absent
    │   └── InvalidItems              raise   give_up          a job's items refused: index, field
    ├── TransportError                retry   backoff          no usable HTTP response
    │   └── QueueUnavailable          retry   backoff          Redis did not confirm an enqueue
    ├── WebhookError                  raise   give_up          a webhook refused, with ``reason``
    │   ├── WebhookVerificationError  raise   give_up          bad signature/timestamp (401)
    │   └── MalformedWebhook          raise   give_up          not Zoom's envelope (400)
    ├── StepInProgress                raise   wait             the step's lease is held elsewhere
    ├── ArchiveError                  raise   backoff          archiving a recording file failed
    │   ├── DownloadUnauthorized      raise   refresh          401/403, or HTML instead of media
    │   ├── DownloadRefused           raise   give_up          a redirect to a host not Zoom's
    │   ├── RecordingGone             raise   give_up          404: Zoom no longer has the file
    │   ├── IncompleteDownload        raise   backoff          cut before ``file_size``; ``reached``
    │   ├── StorageError              raise   backoff          disk full, bucket denied (names it)
    │   └── FileLocked                raise   wait             another worker downloads the file
    ├── DispatchIncomplete            raise   backoff          some runs were not enqueued
    ├── JobConflict                   raise   give_up          idempotency key reused, other body
    ├── AuthError                     raise   backoff          OAuth: the token endpoint refused
    │   └── RefreshTokenRevoked       raise   give_up          refresh token gone; re-install
    ├── RateLimited                   retry   wait             a wait longer than the client sleeps
    │   └── DailyLimitExceeded        raise   park             a daily cap; until ``reset_at``
    └── APIError                      raise   backoff          Zoom answered with an error body
        ├── BadRequest                raise   give_up          400 (validation: code 300 ...)
        │   └── PageTokenExpired      raise   restart_listing  code 300 on a ``next_page_token``
        ├── Unauthorized              raise   refresh          401 after drop-and-refetch
        ├── PermissionDenied          raise   give_up          403
        ├── NotFound                  raise   give_up          404
        ├── Conflict                  raise   give_up          409
        ├── ServerError               retry   backoff          5xx after the client's retries
        └── UnexpectedStatus          raise   give_up          3xx/1xx: never followed or retried

``handling(exc)`` looks a row up along the class's MRO, so the most specific row wins.
The client's ``retry`` is further bounded by ``RetryPolicy`` (attempts, safe methods,
the statuses it retries, the longest wait it sleeps); the queue's budgets are in
``tasks.policy``. ``Unauthorized`` reaches the queue only after ``ZoomAuth`` dropped
the token and fetched another once; the client then drops that one too, so the queue's
single ``refresh`` attempt runs on newly fetched credentials.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, Unpack

__all__ = [
    "HANDLING",
    "APIError",
    "ArchiveError",
    "AuthError",
    "BadRequest",
    "ClientAction",
    "ConfigurationError",
    "Conflict",
    "DailyLimitExceeded",
    "DispatchIncomplete",
    "DownloadRefused",
    "DownloadUnauthorized",
    "FileLocked",
    "Handling",
    "IncompleteDownload",
    "InvalidInput",
    "InvalidItems",
    "JobConflict",
    "MalformedWebhook",
    "NotFound",
    "PageTokenExpired",
    "PermissionDenied",
    "QueueAction",
    "QueueUnavailable",
    "RateLimited",
    "RecordingGone",
    "RefreshTokenRevoked",
    "RulesError",
    "ServerError",
    "StepInProgress",
    "StorageError",
    "TemplateError",
    "TransportError",
    "Unauthorized",
    "UnexpectedStatus",
    "WebhookError",
    "WebhookVerificationError",
    "ZoomError",
    "handled_as",
    "handling",
]


class ZoomError(Exception):
    """Root of every error zoomq raises on purpose."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description, for CLI output and the dead-letter store."""
        return {"type": type(self).__name__, "message": str(self)}


class ConfigurationError(ZoomError):
    """Settings or a connection definition cannot be used."""


class RulesError(ConfigurationError):
    """The rules file cannot be used; the message names the rule and the field."""


class InvalidInput(ZoomError):
    """An action's input failed validation; ``errors`` names each bad field."""

    def __init__(self, message: str, errors: Sequence[Mapping[str, str]] = ()) -> None:
        super().__init__(message)
        self.errors = [dict(e) for e in errors]

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "errors": self.errors}


class TemplateError(InvalidInput):
    """A template is malformed, or names a path the event does not have."""

    def __init__(self, message: str, *, field: str = "template") -> None:
        super().__init__(message, [{"field": field, "message": message}])
        self.field = field


class InvalidItems(InvalidInput):
    """A job refused before anything was stored: ``errors`` lists (index, field, reason).

    ``errors`` is bounded (``ZOOMQ_JOB_MAX_ERRORS``, ``truncated`` when some were left
    off); ``count`` counts the invalid items, ``total`` every invalid field of them.
    """

    def __init__(
        self,
        errors: Sequence[Mapping[str, Any]],
        *,
        count: int,
        total: int | None = None,
        truncated: bool = False,
    ) -> None:
        first = errors[0] if errors else {}
        where = f"item {first.get('index')}: {first.get('field')}: {first.get('reason')}"
        super().__init__(f"{count} invalid item(s); first: {where}")
        self.errors = [dict(e) for e in errors]
        self.count = count
        self.total = total
        self.truncated = truncated

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "count": self.count, "errors_total": self.total}


class TransportError(ZoomError):
    """No usable HTTP response: connection refused, timeouts, protocol errors."""


class QueueUnavailable(TransportError):
    """The item is not known to be in Redis: Redis is down, slow, refused it, or we are full."""


class WebhookError(ZoomError):
    """A webhook delivery refused; ``reason`` is short and machine-readable (for metrics)."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or reason.replace("_", " "))
        self.reason = reason

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "reason": self.reason}


class WebhookVerificationError(WebhookError):
    """Not provably from Zoom: a bad or missing signature, or a timestamp out of range."""


class MalformedWebhook(WebhookError):
    """The body is not a Zoom webhook envelope (``event``, ``event_ts``, ``payload``)."""


class StepInProgress(ZoomError):
    """Another delivery of the same step holds its lease; try again after ``retry_after``."""

    def __init__(self, key: str, retry_after: float) -> None:
        super().__init__(f"step {key} is running elsewhere; retry in {retry_after:.1f}s")
        self.key = key
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "key": self.key, "retry_after": self.retry_after}


class ArchiveError(ZoomError):
    """Archiving one recording file failed; the message names the file, path or bucket."""


class DownloadUnauthorized(ArchiveError):
    """The download was refused (401/403) or answered a login page: fetch a fresh token."""


class DownloadRefused(ArchiveError):
    """A redirect to a host that is not Zoom's: no request, least of all a token, goes there."""


class RecordingGone(ArchiveError):
    """404 on the download: the recording was deleted or its retention ran out."""


class IncompleteDownload(ArchiveError):
    """The stream ended before ``file_size``; the ``reached`` bytes are kept for a resume."""

    def __init__(self, message: str, *, reached: int, expected: int | None = None) -> None:
        super().__init__(message)
        self.reached = reached
        self.expected = expected

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "reached": self.reached, "expected": self.expected}


class StorageError(ArchiveError):
    """The storage refused a write (disk full, permission, bucket denied); names the place."""

    def __init__(self, message: str, *, where: str) -> None:
        super().__init__(message)
        self.where = where

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "where": self.where}


class FileLocked(ArchiveError):
    """Another worker holds this file's download lock; try again after ``retry_after``.

    ``max_waits`` replaces the queue's rate-limit budget: a lock its owner keeps renewing is
    progress, so a duplicate may wait as long as one download may take, not 50 short waits.
    """

    def __init__(self, file_id: str, retry_after: float, *, max_waits: int | None = None) -> None:
        super().__init__(f"file {file_id} is being archived elsewhere; retry in {retry_after:.1f}s")
        self.file_id = file_id
        self.retry_after = retry_after
        self.max_waits = max_waits

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "file_id": self.file_id, "retry_after": self.retry_after}


class DispatchIncomplete(ZoomError):
    """Some runs could not be enqueued; the others were. Retrying the event is safe."""

    def __init__(self, failed: Mapping[str, str], sent: Sequence[str] = ()) -> None:
        super().__init__(f"could not enqueue automation run(s): {', '.join(sorted(failed))}")
        #: Each automation whose run could not be enqueued, and why; those that were.
        self.failed = dict(failed)
        self.sent = list(sent)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "failed": self.failed}


class JobConflict(ZoomError):
    """A job submitted again under its idempotency key, with a different body (409)."""

    def __init__(self, job_id: str, idempotency_key: str) -> None:
        super().__init__(
            f"idempotency key {idempotency_key!r} already names job {job_id}, "
            "submitted with a different body"
        )
        self.job_id = job_id
        self.idempotency_key = idempotency_key

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "job_id": self.job_id}


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


class _RateLimitContext(TypedDict, total=False):
    """The optional keywords of ``RateLimited``, which ``DailyLimitExceeded`` passes on."""

    category: str | None
    status: int | None
    code: int | None
    tracking_id: str | None


class DailyLimitExceeded(RateLimited):
    """A daily cap (per account and category, or 100 meeting writes per user): see ``reset_at``."""

    daily = True

    def __init__(
        self,
        message: str,
        *,
        reset_at: datetime,
        retry_after: float,
        **context: Unpack[_RateLimitContext],
    ) -> None:
        super().__init__(message, retry_after=retry_after, **context)
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
        service: str = "Zoom API",
    ) -> None:
        super().__init__(message)
        #: Who answered: Zoom, or zoomq's own ``/v1`` API (``zoomq.jobs.Client``).
        self.service = service
        self.status = status
        self.code = code
        self.message = message
        self.errors = [dict(e) for e in errors]
        self.tracking_id = tracking_id
        self.method = method
        self.url = url

    def __str__(self) -> str:
        code = f" code {self.code}" if self.code is not None else ""
        return f"{self.service} error {self.status}{code}: {self.message}"

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


class ClientAction(enum.Enum):
    """What ``ZoomClient`` does with an outcome before raising it."""

    #: Retry briefly, within ``RetryPolicy`` (attempts, safe methods, ``max_wait``).
    RETRY = "retry"
    #: Raise at once: the queue (or the caller) decides.
    RAISE = "raise"


class QueueAction(enum.Enum):
    """What the queue does with a task that raised."""

    #: Send it again after a full-jitter backoff, from the ``transient`` budget.
    BACKOFF = "backoff"
    #: Send it again after the error's ``retry_after`` plus jitter, from the waiting budget.
    WAIT = "wait"
    #: Park it until the error's ``reset_at`` plus jitter, whatever the attempts.
    PARK = "park"
    #: Run it again from the first page (a page token expired), a few times at most.
    RESTART_LISTING = "restart_listing"
    #: One more attempt, on credentials fetched afresh; then give up.
    REFRESH = "refresh"
    #: Dead-letter it at once: retrying cannot change the answer.
    GIVE_UP = "give_up"


@dataclass(frozen=True)
class Handling:
    """One row of ``HANDLING``: what each retry layer does with an error class."""

    client: ClientAction
    queue: QueueAction


_RETRY, _RAISE = ClientAction.RETRY, ClientAction.RAISE

#: Per class, what each retry layer does. A class without a row of its own takes its
#: nearest ancestor's (``handling``); the docstring draws the row each class ends up with.
HANDLING: Mapping[type[ZoomError], Handling] = {
    ZoomError: Handling(_RAISE, QueueAction.BACKOFF),
    ConfigurationError: Handling(_RAISE, QueueAction.GIVE_UP),
    InvalidInput: Handling(_RAISE, QueueAction.GIVE_UP),
    TransportError: Handling(_RETRY, QueueAction.BACKOFF),
    WebhookError: Handling(_RAISE, QueueAction.GIVE_UP),
    StepInProgress: Handling(_RAISE, QueueAction.WAIT),
    ArchiveError: Handling(_RAISE, QueueAction.BACKOFF),
    DownloadUnauthorized: Handling(_RAISE, QueueAction.REFRESH),
    DownloadRefused: Handling(_RAISE, QueueAction.GIVE_UP),
    RecordingGone: Handling(_RAISE, QueueAction.GIVE_UP),
    IncompleteDownload: Handling(_RAISE, QueueAction.BACKOFF),
    StorageError: Handling(_RAISE, QueueAction.BACKOFF),
    FileLocked: Handling(_RAISE, QueueAction.WAIT),
    DispatchIncomplete: Handling(_RAISE, QueueAction.BACKOFF),
    JobConflict: Handling(_RAISE, QueueAction.GIVE_UP),
    AuthError: Handling(_RAISE, QueueAction.BACKOFF),
    RefreshTokenRevoked: Handling(_RAISE, QueueAction.GIVE_UP),
    RateLimited: Handling(_RETRY, QueueAction.WAIT),
    DailyLimitExceeded: Handling(_RAISE, QueueAction.PARK),
    APIError: Handling(_RAISE, QueueAction.BACKOFF),
    BadRequest: Handling(_RAISE, QueueAction.GIVE_UP),
    PageTokenExpired: Handling(_RAISE, QueueAction.RESTART_LISTING),
    Unauthorized: Handling(_RAISE, QueueAction.REFRESH),
    PermissionDenied: Handling(_RAISE, QueueAction.GIVE_UP),
    NotFound: Handling(_RAISE, QueueAction.GIVE_UP),
    Conflict: Handling(_RAISE, QueueAction.GIVE_UP),
    ServerError: Handling(_RETRY, QueueAction.BACKOFF),
    UnexpectedStatus: Handling(_RAISE, QueueAction.GIVE_UP),
}


def handled_as(error: ZoomError | type[ZoomError]) -> type[ZoomError]:
    """The class whose row applies to ``error``: its own, else its nearest ancestor with one."""
    cls = error if isinstance(error, type) else type(error)
    for klass in cls.__mro__:
        if klass in HANDLING:
            return klass
    raise TypeError(f"{cls.__name__} is not in the ZoomError tree")


def handling(error: ZoomError | type[ZoomError]) -> Handling:
    """The row for ``error`` (an instance or a class); the most specific class wins."""
    return HANDLING[handled_as(error)]
