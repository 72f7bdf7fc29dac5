"""The queue's retry decisions: one pure function from (error, attempts) to what to do.

The HTTP client already retried briefly (STYLE.md §5); what reaches a task is for the
queue: wait ``retry_after`` on a rate limit, back off on transient errors, park until a
daily limit resets, and give up at once on errors that retrying cannot change.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from redis import RedisError

from zoomq.errors import (
    NEVER_RETRY,
    DailyLimitExceeded,
    RateLimited,
    ZoomError,
)
from zoomq.runtime.idempotency import StepInProgress
from zoomq.settings import QueueSettings

__all__ = ["Decision", "GiveUp", "Park", "RetryLater", "backoff", "decide"]


@dataclass(frozen=True)
class RetryLater:
    """Send the task again after ``countdown`` seconds (a Celery retry)."""

    countdown: float
    reason: str


@dataclass(frozen=True)
class Park:
    """Too long for a countdown: park the message until ``due_at`` (epoch seconds)."""

    due_at: float
    reason: str


@dataclass(frozen=True)
class GiveUp:
    """No retry: the task goes to the dead-letter store."""

    reason: str


Decision = RetryLater | Park | GiveUp


def backoff(attempt: int, config: QueueSettings, rand: Callable[[], float]) -> float:
    """Full jitter: uniform(0, min(cap, base * 2**attempt))."""
    ceiling = min(config.retry_backoff_cap, config.retry_backoff_base * (2.0 ** min(attempt, 30)))
    return rand() * ceiling


def decide(
    exc: BaseException,
    retries: Mapping[str, int],
    config: QueueSettings,
    now: float,
    rand: Callable[[], float] = random.random,
) -> Decision:
    """What the queue does with a task that raised ``exc``.

    ``retries`` counts the retries so far by reason (``transient``, ``rate_limited``,
    ``step_in_progress``): rate limits have their own, larger budget, so a burst of 429s
    does not use up the retries meant for errors.
    """
    if isinstance(exc, DailyLimitExceeded):
        return Park(exc.reset_at.timestamp() + rand() * config.daily_limit_jitter, "daily_limit")
    if isinstance(exc, NEVER_RETRY):
        return GiveUp("never_retry")
    if isinstance(exc, RateLimited | StepInProgress):
        budget = config.max_rate_limit_retries
        wait = exc.retry_after + rand() * config.rate_limit_jitter
        reason = "rate_limited" if isinstance(exc, RateLimited) else "step_in_progress"
    elif isinstance(exc, ZoomError | RedisError | OSError | SoftTimeLimitExceeded):
        # TransportError, ServerError, AuthError hiccups and the like: back off.
        budget, reason = config.max_retries, "transient"
        wait = backoff(retries.get(reason, 0), config, rand)
    else:
        # A bug (in an automation, say) gives the same answer every time.
        return GiveUp("unexpected_error")
    if retries.get(reason, 0) >= budget:
        return GiveUp("retries_exhausted")
    if wait > config.max_countdown:
        return Park(now + wait, reason)
    return RetryLater(max(wait, 0.0), reason)
