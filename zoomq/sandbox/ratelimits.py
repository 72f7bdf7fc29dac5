"""Zoom's rate limits: per account and category, per plan (ZOOM_API.md §3).

Per-second (per-minute for resource-intensive) fixed windows, the daily caps of the
free plan and the shared Heavy + Resource-intensive daily cap of paid plans, the
100/day meeting create/update cap per host user, and ``createUser`` daily caps.
Every budget is multiplied by ``rate_scale`` (at least 1 remains). Time comes from
the injected clock, so tests can cross a second or a UTC midnight at will.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from zoomq.clock import Clock
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.responses import Headers, ZoomHTTPError
from zoomq.sandbox.times import DAY, next_midnight_iso
from zoomq.settings import Plan

__all__ = ["REGISTRANT_MESSAGES", "Budget", "Category", "RateLimiter"]

PER_SECOND_MESSAGE = (
    "You have reached the maximum per-second rate limit for this API. Try again later."
)
DAILY_MESSAGE = (
    "You have reached the maximum daily rate limit for this API. "
    "Refer to the response header for details on when you can make another request."
)
#: Zoom's wording per endpoint (devforum threads 141856 and 57798), with the cap and email.
REGISTRANT_MESSAGES = {
    "meeting": (
        "You have exceeded the daily rate limit of ({cap}) for Add a meeting registrant API "
        "requests for the registrant ({email}). You can resume these API requests at GMT 00:00:00."
    ),
    "webinar": (
        "You have exceeded the daily rate limit of ({cap}) for Add a webinar registrant API "
        "requests for the registrant ({email}). You can resume these API requests at GMT 00:00:00."
    ),
    "meeting_batch": (
        "You have exceeded the daily rate limit ({cap}) of Meeting Batch Registration API "
        "requests permitted for ({email}) this particular registrant. You may resume these "
        "requests at GMT 00:00:00."
    ),
    "webinar_batch": (
        "You have exceeded the daily rate limit ({cap}) of Webinar Batch Registration API "
        "requests permitted for ({email}) this particular registrant. You may resume these "
        "requests at GMT 00:00:00."
    ),
}
USER_MEETING_MESSAGE = (
    "You have exceeded the daily rate limit ({cap}) of Meeting Create/Update API requests "
    "permitted for this particular user. You may resume these requests at GMT 00:00:00."
)


class Category(StrEnum):
    """Zoom's rate-limit labels."""

    LIGHT = "light"
    MEDIUM = "medium"
    HEAVY = "heavy"
    RESOURCE_INTENSIVE = "resource_intensive"

    @property
    def header(self) -> str:
        """The value of ``X-RateLimit-Category``."""
        return "Resource-intensive" if self is Category.RESOURCE_INTENSIVE else self.value.title()


L, M, H, R = Category.LIGHT, Category.MEDIUM, Category.HEAVY, Category.RESOURCE_INTENSIVE
_Row = tuple[int, int, int | None, str]  # per window, window seconds, daily cap, daily group
_SHARED = "heavy+resource_intensive"

_API: dict[Plan, dict[Category, _Row]] = {
    Plan.FREE: {
        L: (4, 1, 6_000, "light"),
        M: (2, 1, 2_000, "medium"),
        H: (1, 1, 1_000, "heavy"),
        R: (10, 60, 30_000, "resource_intensive"),
    },
    Plan.PRO: {
        L: (30, 1, None, ""),
        M: (20, 1, None, ""),
        H: (10, 1, 30_000, _SHARED),
        R: (10, 60, 30_000, _SHARED),
    },
    Plan.BUSINESS: {
        L: (80, 1, None, ""),
        M: (60, 1, None, ""),
        H: (40, 1, 60_000, _SHARED),
        R: (20, 60, 60_000, _SHARED),
    },
}
# Zoom Phone has its own table (Pro vs Business+); a free account is treated as Pro.
_PHONE_PRO: dict[Category, _Row] = {
    L: (20, 1, None, ""),
    M: (10, 1, None, ""),
    H: (5, 1, 15_000, "phone:heavy"),
    R: (5, 60, 15_000, "phone:resource_intensive"),
}
_PHONE: dict[Plan, dict[Category, _Row]] = {
    Plan.FREE: _PHONE_PRO,
    Plan.PRO: _PHONE_PRO,
    Plan.BUSINESS: {
        L: (40, 1, None, ""),
        M: (20, 1, None, ""),
        H: (10, 1, 30_000, "phone:heavy"),
        R: (10, 60, 30_000, "phone:resource_intensive"),
    },
}
_USER_CREATE_DAILY = {Plan.FREE: 50, Plan.PRO: 1_500, Plan.BUSINESS: 10_000}


@dataclass(frozen=True, slots=True)
class Budget:
    """One category's budget after scaling."""

    category: Category
    key: str
    per_window: int
    window: int
    daily: int | None
    daily_group: str


def _scaled(value: int, scale: float) -> int:
    return max(1, int(value * scale))


class RateLimiter:
    """Counts requests per account and category; raises Zoom's 429 when a budget is spent."""

    def __init__(self, config: SandboxConfig, clock: Clock) -> None:
        self.enabled = config.rate_limits
        self._clock = clock
        self._user_cap = config.user_meeting_daily_cap
        self._registrant_cap = config.registrant_daily_cap
        scale = config.rate_scale
        self._budgets: dict[tuple[Category, bool], Budget] = {}
        for phone, table in ((False, _API), (True, _PHONE)):
            for category, (per, window, daily, group) in table[config.plan].items():
                self._budgets[(category, phone)] = Budget(
                    category=category,
                    key=("phone:" if phone else "") + category.value,
                    per_window=_scaled(per, scale),
                    window=window,
                    daily=_scaled(daily, scale) if daily is not None else None,
                    daily_group=group,
                )
        self._user_create_cap = _scaled(_USER_CREATE_DAILY[config.plan], scale)
        self._windows: dict[tuple[str, str], list[int]] = {}
        self._daily: dict[tuple[str, str], list[int]] = {}
        self._per_user: dict[str, list[int]] = {}
        self._per_registrant: dict[tuple[str, int, str], list[int]] = {}
        #: How many requests each kind of limit refused: qps, daily, user_meeting,
        #: user_create, registrant.
        self.rejected: Counter[str] = Counter()

    def budget(self, category: Category, *, phone: bool = False) -> Budget:
        return self._budgets[(category, phone)]

    def reset(self) -> None:
        self._windows.clear()
        self._daily.clear()
        self._per_user.clear()
        self._per_registrant.clear()
        self.rejected.clear()

    def check(self, account: str, category: Category, *, phone: bool = False) -> Headers:
        """Count one request; the ``X-RateLimit-*`` headers to send, or a 429 raised."""
        budget = self._budgets[(category, phone)]
        now = self._clock.time()
        window = int(now // budget.window)
        key = (account, budget.key)
        slot = self._windows.get(key)
        if slot is None or slot[0] != window:
            slot = self._windows[key] = [window, 0]
        daily_slot: list[int] | None = None
        if budget.daily is not None:
            day = int(now // DAY)
            daily_key = (account, budget.daily_group)
            daily_slot = self._daily.get(daily_key)
            if daily_slot is None or daily_slot[0] != day:
                daily_slot = self._daily[daily_key] = [day, 0]
            if daily_slot[1] >= budget.daily:
                self.rejected["daily"] += 1
                raise ZoomHTTPError(
                    429,
                    429,
                    DAILY_MESSAGE,
                    headers=[
                        *_headers(category, "Daily-limit", budget.daily, 0),
                        ("Retry-After", next_midnight_iso(now)),
                    ],
                )
        if slot[1] >= budget.per_window:
            self.rejected["qps"] += 1
            raise ZoomHTTPError(
                429,
                429,
                PER_SECOND_MESSAGE,
                headers=_headers(category, "QPS", budget.per_window, 0),
            )
        slot[1] += 1
        if daily_slot is not None and budget.daily is not None:
            daily_slot[1] += 1
            return _headers(category, "Daily-limit", budget.daily, budget.daily - daily_slot[1])
        return _headers(category, "QPS", budget.per_window, budget.per_window - slot[1])

    def count_meeting_write(self, host_id: str) -> None:
        """Zoom's 100 meeting create/update requests per host user per UTC day."""
        cap = self._user_cap
        if not self.enabled or cap is None:
            return
        now = self._clock.time()
        day = int(now // DAY)
        slot = self._per_user.get(host_id)
        if slot is None or slot[0] != day:
            slot = self._per_user[host_id] = [day, 0]
        if slot[1] >= cap:
            self.rejected["user_meeting"] += 1
            raise ZoomHTTPError(
                429,
                429,
                USER_MEETING_MESSAGE.format(cap=cap),
                headers=[
                    ("X-RateLimit-Type", "Daily-limit"),
                    ("Retry-After", next_midnight_iso(now)),
                ],
            )
        slot[1] += 1

    def count_registrants(self, kind: str, event_id: int, emails: Iterable[str]) -> None:
        """Zoom's daily cap on adding one email to one meeting/webinar, per endpoint ``kind``.

        ``kind`` is a key of ``REGISTRANT_MESSAGES``. Every request counts, also one that
        returns an existing registrant; a refused request counts for none of its emails.
        """
        cap = self._registrant_cap
        if not self.enabled or cap is None:
            return
        now = self._clock.time()
        day = int(now // DAY)
        counters = self._per_registrant
        slots: list[list[int]] = []
        for email in dict.fromkeys(e.lower() for e in emails):
            key = (kind, event_id, email)
            slot = counters.get(key)
            if slot is None or slot[0] != day:
                slot = counters[key] = [day, 0]
            if slot[1] >= cap:
                self.rejected["registrant"] += 1
                raise ZoomHTTPError(
                    429,
                    429,
                    REGISTRANT_MESSAGES[kind].format(cap=cap, email=email),
                    headers=[
                        ("X-RateLimit-Type", "Daily-limit"),
                        ("Retry-After", next_midnight_iso(now)),
                    ],
                )
            slots.append(slot)
        for slot in slots:
            slot[1] += 1

    def count_user_create(self, account: str) -> None:
        """The plan's daily cap on ``createUser`` with ``action=create``."""
        if not self.enabled:
            return
        now = self._clock.time()
        day = int(now // DAY)
        key = (account, "user_create")
        slot = self._daily.get(key)
        if slot is None or slot[0] != day:
            slot = self._daily[key] = [day, 0]
        if slot[1] >= self._user_create_cap:
            self.rejected["user_create"] += 1
            raise ZoomHTTPError(
                429,
                429,
                DAILY_MESSAGE,
                headers=[
                    ("X-RateLimit-Type", "Daily-limit"),
                    ("Retry-After", next_midnight_iso(now)),
                ],
            )
        slot[1] += 1


def _headers(category: Category, kind: str, limit: int, remaining: int) -> Headers:
    return (
        ("X-RateLimit-Category", category.header),
        ("X-RateLimit-Type", kind),
        ("X-RateLimit-Limit", str(limit)),
        ("X-RateLimit-Remaining", str(max(remaining, 0))),
    )
