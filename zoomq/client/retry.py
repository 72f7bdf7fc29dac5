"""The HTTP client's one retry policy, and the one backoff calculator of both retry layers.

The client retries *briefly* (connect errors, 5xx, a short per-second 429): which errors
it retries at all is the ``client`` column of ``zoomq.errors.HANDLING``; this policy
bounds those retries (attempts, safe methods, statuses, the longest sleep). A wait
longer than ``max_wait`` is not slept: it becomes ``RateLimited`` for the queue, which
owns long waits and backs off with the same ``Backoff``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from zoomq.errors import APIError, ClientAction, RateLimited, ZoomError, handling

__all__ = ["IDEMPOTENT", "Backoff", "RetryPolicy"]

#: Beyond this exponent ``base * 2**attempt`` is past any cap (and a float could overflow).
_MAX_EXPONENT = 30


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**attempt))."""

    base: float = 0.25
    cap: float = 8.0
    rand: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (0-based)."""
        return self.rand() * min(self.cap, self.base * 2.0 ** min(attempt, _MAX_EXPONENT))


#: Methods Zoom treats as safe to repeat after a 5xx (POST may have taken effect).
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, how to back off, and the longest wait the client sleeps."""

    max_attempts: int = 4
    backoff: Backoff = field(default_factory=Backoff)
    max_wait: float = 10.0
    retry_statuses: frozenset[int] = frozenset({500, 502, 503, 504})
    #: POSTs are retried on 5xx only when this is True: a create that timed out at
    #: Zoom may have happened, and only the queue's idempotency guard can tell.
    retry_unsafe_methods: bool = False

    def should_retry(
        self, error: ZoomError, method: str, attempt: int, *, reached_zoom: bool = True
    ) -> bool:
        """Whether retry number ``attempt`` (0-based) of ``method`` may follow ``error``.

        The table says which errors the client retries at all; then an attempt must be
        left, and a request that may have reached Zoom is repeated only when that is
        safe. A 429 counts as never processed; a 503 too (Zoom did not take the request).
        """
        if handling(error).client is not ClientAction.RETRY:
            return False
        if attempt + 1 >= self.max_attempts:
            return False
        if isinstance(error, RateLimited):
            return True
        if isinstance(error, APIError):
            if error.status not in self.retry_statuses:
                return False
            reached_zoom = error.status != 503
        return not reached_zoom or self.retry_unsafe_methods or method.upper() in IDEMPOTENT

    def wait_for(self, attempt: int, retry_after: float | None) -> float:
        """Honour ``Retry-After`` when given, else back off with jitter."""
        if retry_after is not None:
            return retry_after + self.backoff.rand() * 0.1
        return self.backoff.delay(attempt)
