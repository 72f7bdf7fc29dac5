"""The HTTP client's one retry policy: which outcomes to retry, and how long to wait.

The client retries *briefly* (connect errors, 5xx, a short per-second 429). A wait
longer than ``max_wait`` is not slept: it becomes ``RateLimited`` for the queue,
which owns long waits (STYLE.md §5).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Backoff", "RetryPolicy"]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**attempt))."""

    base: float = 0.25
    cap: float = 8.0
    rand: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (0-based)."""
        return self.rand() * min(self.cap, self.base * 2.0**attempt)


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

    def should_retry_status(self, method: str, status: int) -> bool:
        if status not in self.retry_statuses:
            return False
        # 503 means the request was not processed, so even a POST may go again.
        return status == 503 or self.retry_unsafe_methods or method.upper() in IDEMPOTENT

    def should_retry_transport(self, method: str, *, sent: bool) -> bool:
        """Connect errors never reached Zoom: any method may retry. Others: idempotent only."""
        return not sent or self.retry_unsafe_methods or method.upper() in IDEMPOTENT

    def wait_for(self, attempt: int, retry_after: float | None) -> float:
        """Honour ``Retry-After`` when given, else back off with jitter."""
        if retry_after is not None:
            return retry_after + self.backoff.rand() * 0.1
        return self.backoff.delay(attempt)
