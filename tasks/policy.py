"""The queue's retry decisions: one pure function from (error, retries so far) to what to do.

What to do is the ``queue`` column of ``zoomq.errors.HANDLING`` (the HTTP client already
retried briefly; long waits are the queue's); this module adds the budgets and the waits, one small
function per action. Errors from outside the tree that a retry can cure (Redis, the
network, the soft time limit) back off like ``TransportError``; anything else is a bug
and gives the same answer every time.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from redis import RedisError

from zoomq.client.retry import Backoff
from zoomq.errors import QueueAction, ZoomError, handled_as, handling
from zoomq.settings import QueueSettings

__all__ = [
    "CREDENTIAL_REFRESHES",
    "DAILY_LIMIT",
    "LISTING_RESTARTS",
    "Decision",
    "GiveUp",
    "Park",
    "RetryLater",
    "backoff",
    "counts_against_budget",
    "decide",
    "queue_action",
    "queue_backoff",
]

#: A listing whose page token expired (15 minutes) is run again from its first page this
#: many times; a listing that cannot be walked within a token's life a few times over
#: will not be walked by trying more.
LISTING_RESTARTS = 3
#: ``Unauthorized`` reaches the queue after ``ZoomAuth`` dropped the token and fetched a
#: new one; the client drops that one too, so one more attempt runs on credentials fetched
#: afresh. Refused again, the credentials (or the app's scopes) are wrong: give up.
CREDENTIAL_REFRESHES = 1

#: Not in the tree, but a retry can cure them.
_TRANSIENT: tuple[type[BaseException], ...] = (RedisError, OSError, SoftTimeLimitExceeded)


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

#: Parked until Zoom's daily reset: no budget (it waits as long as the day takes).
DAILY_LIMIT = "daily_limit"


def counts_against_budget(decision: Decision) -> bool:
    """A retry, or a wait too long for a countdown, spends its reason's budget; a daily
    park and giving up do not."""
    if isinstance(decision, Park):
        return decision.reason != DAILY_LIMIT
    return isinstance(decision, RetryLater)


@dataclass(frozen=True)
class _Again:
    """Retry after ``wait`` seconds, unless ``reason`` has used up its ``budget``."""

    budget: int
    reason: str
    wait: float


def queue_backoff(config: QueueSettings, rand: Callable[[], float]) -> Backoff:
    """The queue's full-jitter backoff: the client's calculator with the queue's scale."""
    return Backoff(base=config.retry_backoff_base, cap=config.retry_backoff_cap, rand=rand)


def backoff(attempt: int, config: QueueSettings, rand: Callable[[], float]) -> float:
    """Full jitter: uniform(0, min(cap, base * 2**attempt))."""
    return queue_backoff(config, rand).delay(attempt)


def queue_action(exc: BaseException) -> QueueAction | None:
    """The table's queue action for ``exc``; None for an error no retry can cure (a bug)."""
    if isinstance(exc, ZoomError):
        return handling(exc).queue
    if isinstance(exc, _TRANSIENT):
        return QueueAction.BACKOFF
    return None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


_Step = Callable[
    [BaseException, Mapping[str, int], QueueSettings, Callable[[], float]], "Decision | _Again"
]


def _backoff(
    exc: BaseException, retries: Mapping[str, int], config: QueueSettings, rand: Callable[[], float]
) -> Decision | _Again:
    wait = backoff(retries.get("transient", 0), config, rand)
    return _Again(config.max_retries, "transient", wait)


def _wait(
    exc: BaseException, retries: Mapping[str, int], config: QueueSettings, rand: Callable[[], float]
) -> Decision | _Again:
    # Named after the class whose row says ``wait`` (rate_limited, step_in_progress), so
    # each kind of wait counts apart; all share the larger rate-limit budget.
    assert isinstance(exc, ZoomError)
    reason = _snake(handled_as(exc).__name__)
    retry_after = float(getattr(exc, "retry_after", 0.0))
    budget = getattr(exc, "max_waits", None) or config.max_rate_limit_retries
    return _Again(budget, reason, retry_after + rand() * config.rate_limit_jitter)


def _park(
    exc: BaseException, retries: Mapping[str, int], config: QueueSettings, rand: Callable[[], float]
) -> Decision | _Again:
    reset_at = getattr(exc, "reset_at", None)
    if reset_at is None:
        return _wait(exc, retries, config, rand)
    return Park(reset_at.timestamp() + rand() * config.daily_limit_jitter, DAILY_LIMIT)


def _restart_listing(
    exc: BaseException, retries: Mapping[str, int], config: QueueSettings, rand: Callable[[], float]
) -> Decision | _Again:
    # Soon: the restarted walk needs the whole of a fresh token's 15 minutes.
    wait = backoff(retries.get("listing_restart", 0), config, rand)
    return _Again(LISTING_RESTARTS, "listing_restart", wait)


def _refresh(
    exc: BaseException, retries: Mapping[str, int], config: QueueSettings, rand: Callable[[], float]
) -> Decision | _Again:
    return _Again(CREDENTIAL_REFRESHES, "credentials_refresh", backoff(0, config, rand))


def _give_up(
    exc: BaseException, retries: Mapping[str, int], config: QueueSettings, rand: Callable[[], float]
) -> Decision | _Again:
    return GiveUp("never_retry")


_STEPS: Mapping[QueueAction, _Step] = {
    QueueAction.BACKOFF: _backoff,
    QueueAction.WAIT: _wait,
    QueueAction.PARK: _park,
    QueueAction.RESTART_LISTING: _restart_listing,
    QueueAction.REFRESH: _refresh,
    QueueAction.GIVE_UP: _give_up,
}


def decide(
    exc: BaseException,
    retries: Mapping[str, int],
    config: QueueSettings,
    now: float,
    rand: Callable[[], float] = random.random,
) -> Decision:
    """What the queue does with a task that raised ``exc``.

    ``retries`` counts the retries so far by reason (``transient``, ``rate_limited``,
    ``step_in_progress``, ``listing_restart``, ``credentials_refresh``): each has its own
    budget, so a burst of 429s does not use up the retries meant for errors.
    """
    action = queue_action(exc)
    if action is None:
        return GiveUp("unexpected_error")
    step = _STEPS[action](exc, retries, config, rand)
    if not isinstance(step, _Again):
        return step
    if retries.get(step.reason, 0) >= step.budget:
        return GiveUp("retries_exhausted")
    if step.wait > config.max_countdown:
        return Park(now + step.wait, step.reason)
    return RetryLater(max(step.wait, 0.0), step.reason)
