"""Zoom's rate budgets, the one parser of rate-limit headers, and a distributed limiter.

Zoom counts per *account* and *category* (ZOOM_API.md §3). Every zoomq process takes
a token from the same Redis bucket before each request, so N workers together stay
inside the account's budget. The bucket is a GCRA reservation in one Lua script:
a caller learns how long to wait for its slot, and a slot further away than the
caller will wait is not reserved (the queue re-schedules the work instead).

Why a script of our own: a reservation is read-compute-write on one key, and only a server
side script makes it atomic across processes in one round trip (a client-side
``WATCH``/``MULTI`` retries under contention); measured at 140 µs against a Redis ``PING``'s
99 µs (PERF_BASELINES.md), about one round trip.
"""

from __future__ import annotations

import email.utils
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from zoomq.clock import Clock, SystemClock
from zoomq.settings import DEFAULT_KEY_PREFIX

if TYPE_CHECKING:
    import redis

__all__ = [
    "NO_OBSERVER",
    "PLAN_BUDGETS",
    "Budget",
    "MemoryRateLimiter",
    "NullObserver",
    "RateCategory",
    "RateLimitInfo",
    "RateLimiter",
    "RateObserver",
    "RedisRateLimiter",
    "SlotBank",
    "next_utc_midnight",
    "parse_rate_limit",
]


class RateCategory(StrEnum):
    """Zoom's rate-limit label of an endpoint."""

    LIGHT = "light"
    MEDIUM = "medium"
    HEAVY = "heavy"
    RESOURCE_INTENSIVE = "resource_intensive"


@dataclass(frozen=True)
class Budget:
    """Requests per second (and an optional daily cap) for one category."""

    per_second: float
    daily: int | None = None


# ZOOM_API.md §3. Resource-intensive is per minute: 10/min = 1/6 per second.
PLAN_BUDGETS: Mapping[str, Mapping[RateCategory, Budget]] = {
    "free": {
        RateCategory.LIGHT: Budget(4, 6_000),
        RateCategory.MEDIUM: Budget(2, 2_000),
        RateCategory.HEAVY: Budget(1, 1_000),
        RateCategory.RESOURCE_INTENSIVE: Budget(10 / 60, 30_000),
    },
    "pro": {
        RateCategory.LIGHT: Budget(30),
        RateCategory.MEDIUM: Budget(20),
        RateCategory.HEAVY: Budget(10),
        RateCategory.RESOURCE_INTENSIVE: Budget(10 / 60),
    },
    "business": {
        RateCategory.LIGHT: Budget(80),
        RateCategory.MEDIUM: Budget(60),
        RateCategory.HEAVY: Budget(40),
        RateCategory.RESOURCE_INTENSIVE: Budget(20 / 60),
    },
}

#: Zoom's per-user cap on meeting/webinar create+update requests per UTC day.
USER_MEETING_DAILY_CAP = 100


def next_utc_midnight(now: float) -> datetime:
    day = datetime.fromtimestamp(now, UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True)
class RateLimitInfo:
    """What a response says about rate limits (every field optional in practice)."""

    category: str | None = None
    type: str | None = None
    limit: int | None = None
    remaining: int | None = None
    retry_after: float | None = None  # seconds from now
    daily: bool = False
    user_daily: bool = False


def _parse_retry_after(value: str, now: float) -> float | None:
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # ISO 8601, as Zoom's old docs show: 2020-05-31T00:00:00Z
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - now)
    except ValueError:
        pass
    try:  # HTTP-date
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - now)
    except (TypeError, ValueError):
        return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def parse_rate_limit(headers: Mapping[str, str], message: str | None, now: float) -> RateLimitInfo:
    """The one place rate-limit headers and 429 messages are read.

    ``headers`` must be case-insensitive (httpx.Headers is).
    """
    rl_type = headers.get("x-ratelimit-type")
    text = (message or "").lower()
    user_daily = "particular user" in text or "for a single user" in text
    daily = user_daily or "daily" in text or (rl_type is not None and "daily" in rl_type.lower())
    retry_after = None
    raw = headers.get("retry-after")
    if raw:
        retry_after = _parse_retry_after(raw, now)
    if retry_after is None:
        reset = headers.get("x-ratelimit-reset")
        if reset:
            value = _parse_retry_after(reset, now)
            # A bare number may be an epoch rather than a delay.
            if value is not None and value > 10 * 86400:
                value = max(0.0, value - now)
            retry_after = value
    if retry_after is None and daily:
        retry_after = next_utc_midnight(now).timestamp() - now
    return RateLimitInfo(
        category=headers.get("x-ratelimit-category"),
        type=rl_type,
        limit=_int(headers.get("x-ratelimit-limit")),
        remaining=_int(headers.get("x-ratelimit-remaining")),
        retry_after=retry_after,
        daily=daily,
        user_daily=user_daily,
    )


class RateLimiter(Protocol):
    """Reserves request slots in a shared budget."""

    def reserve(self, key: str, budget: Budget, max_wait: float) -> float:
        """Reserve a slot and return the seconds to wait for it.

        A slot further away than ``max_wait`` is not reserved: the result is then
        negative, ``-(wait)``, so the caller can say when to come back.
        """
        ...

    def count_daily(self, key: str, cap: int, now: float) -> bool:
        """Count one request against a daily cap; False when the cap is already used up."""
        ...


# GCRA: the bucket is one timestamp, the "theoretical arrival time" (TAT), in µs.
# KEYS[1] bucket; ARGV: interval µs, burst tolerance µs, max wait µs.
# Returns the wait in µs, or -(wait + 1) when the slot is further than max wait (not reserved).
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
if wait > max_wait then return -wait - 1 end
local new_tat = tat + interval
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
return wait
"""

# The same GCRA for up to ARGV[4] consecutive slots at once, as many as start within max
# wait. Returns {wait of the first in µs, slots reserved}, or {-(wait + 1), 0}.
_GCRA_MANY = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
if wait > max_wait then return {-wait - 1, 0} end
local n = math.min(tonumber(ARGV[4]), math.floor((max_wait - wait) / interval) + 1)
local new_tat = tat + n * interval
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
return {wait, n}
"""

# KEYS[1] day counter; ARGV: cap, ttl seconds. Returns 1 if counted, 0 if the cap is used up.
_DAILY = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""


class RateObserver(Protocol):
    """Told of the client's waits and Zoom's 429s (the worker's metrics; nothing else)."""

    def waited(self, category: str, seconds: float) -> None:
        """The client slept ``seconds`` for a limiter slot of ``category``."""

    def rate_limited(self, category: str, *, daily: bool) -> None:
        """Zoom answered 429 for ``category`` (``daily``: a daily limit)."""


class NullObserver:
    """Observes nothing: the client's default."""

    def waited(self, category: str, seconds: float) -> None:
        del category, seconds

    def rate_limited(self, category: str, *, daily: bool) -> None:
        del category, daily


NO_OBSERVER: RateObserver = NullObserver()


def _burst(budget: Budget) -> float:
    # No burst: requests are spaced evenly, so no one-second window at Zoom ever
    # sees more than the budget (plus the one request on its edge).
    del budget
    return 1.0


class RedisRateLimiter:
    """The distributed limiter: one GCRA bucket per (account, category) in Redis."""

    def __init__(self, client: redis.Redis, prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self._redis = client
        self._prefix = prefix
        self._gcra = client.register_script(_GCRA)
        self._gcra_many = client.register_script(_GCRA_MANY)
        self._daily = client.register_script(_DAILY)

    def reserve(self, key: str, budget: Budget, max_wait: float) -> float:
        interval = 1_000_000 / budget.per_second
        tolerance = interval * (_burst(budget) - 1)
        waited: Any = self._gcra(
            keys=[f"{self._prefix}:rl:{key}"],
            args=[int(interval), int(tolerance), int(max_wait * 1_000_000)],
        )
        wait = int(waited)
        return wait / 1_000_000 if wait >= 0 else (wait + 1) / 1_000_000 - 1e-6

    def reserve_many(
        self, key: str, budget: Budget, count: int, max_wait: float
    ) -> tuple[float, int]:
        """Up to ``count`` consecutive slots in one call: (wait for the first, how many).

        Slot ``k`` is due ``k / budget.per_second`` after the first. None is reserved when
        the first is further than ``max_wait``: the wait is then negative, as ``reserve``'s.
        """
        interval = 1_000_000 / budget.per_second
        tolerance = interval * (_burst(budget) - 1)
        raw: Any = self._gcra_many(
            keys=[f"{self._prefix}:rl:{key}"],
            args=[int(interval), int(tolerance), int(max_wait * 1_000_000), max(1, count)],
        )
        wait, reserved = int(raw[0]), int(raw[1])
        if wait < 0:
            return (wait + 1) / 1_000_000 - 1e-6, 0
        return wait / 1_000_000, reserved

    def count_daily(self, key: str, cap: int, now: float) -> bool:
        day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
        ttl = int(next_utc_midnight(now).timestamp() - now) + 3600
        done: Any = self._daily(keys=[f"{self._prefix}:day:{key}:{day}"], args=[cap, ttl])
        return bool(int(done))


class MemoryRateLimiter:
    """The same GCRA in one process, for the CLI without Redis and for unit tests."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._tat: dict[str, float] = {}
        self._days: dict[str, int] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, budget: Budget, max_wait: float) -> float:
        interval = 1.0 / budget.per_second
        tolerance = interval * (_burst(budget) - 1)
        with self._lock:
            now = self._clock.monotonic()
            tat = max(self._tat.get(key, now), now)
            wait = max(0.0, tat - tolerance - now)
            if wait > max_wait:
                return -wait - 1e-6
            self._tat[key] = tat + interval
            return wait

    def reserve_many(
        self, key: str, budget: Budget, count: int, max_wait: float
    ) -> tuple[float, int]:
        interval = 1.0 / budget.per_second
        with self._lock:
            now = self._clock.monotonic()
            tat = max(self._tat.get(key, now), now)
            wait = max(0.0, tat - now)
            if wait > max_wait:
                return -wait - 1e-6, 0
            n = min(max(1, count), int((max_wait - wait) / interval) + 1)
            self._tat[key] = tat + n * interval
            return wait, n

    def count_daily(self, key: str, cap: int, now: float) -> bool:
        day_key = f"{key}:{datetime.fromtimestamp(now, UTC):%Y%m%d}"
        with self._lock:
            n = self._days.get(day_key, 0)
            if n >= cap:
                return False
            self._days[day_key] = n + 1
            return True


class _ManySlots(Protocol):
    def reserve_many(
        self, key: str, budget: Budget, count: int, max_wait: float
    ) -> tuple[float, int]: ...

    def count_daily(self, key: str, cap: int, now: float) -> bool: ...


class SlotBank:
    """A ``RateLimiter`` that takes slots from the shared one several at a time.

    Many requests of one process to one account (a bulk chunk's threads) each need a slot;
    one Redis call reserves ``batch`` consecutive ones and the next callers take them in
    order, each told how long to wait for its own. A slot nobody took until ``stale``
    seconds after its time is dropped, not used late: sent late it would share the next
    second with that second's own requests, and Zoom counts per second.
    """

    def __init__(
        self,
        limiter: _ManySlots,
        *,
        batch: int = 8,
        stale: float = 0.005,
        clock: Clock | None = None,
    ) -> None:
        self._limiter = limiter
        self._batch = batch
        self._stale = stale
        self._clock = clock or SystemClock()
        self._slots: dict[str, deque[float]] = {}
        # One lock per bucket: a thread fetching slots for one account from Redis holds up
        # only that account's threads, not every account's in the process.
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        #: Slots reserved and dropped unused (for the benchmark and tests).
        self.dropped = 0

    def _bucket(self, key: str) -> tuple[threading.Lock, deque[float]]:
        lock = self._locks.get(key)
        if lock is None:
            with self._lock:
                lock = self._locks.get(key)
                if lock is None:
                    self._slots[key] = deque()
                    lock = self._locks[key] = threading.Lock()
        return lock, self._slots[key]

    def reserve(self, key: str, budget: Budget, max_wait: float) -> float:
        lock, slots = self._bucket(key)
        with lock:
            now = self._clock.monotonic()
            while slots and slots[0] < now - self._stale:
                slots.popleft()
                self.dropped += 1
            if slots and slots[0] - now <= max_wait:
                return max(0.0, slots.popleft() - now)
            if slots:  # the next banked slot is too far: hand the wait back
                return -(slots[0] - now) - 1e-6
            wait, reserved = self._limiter.reserve_many(key, budget, self._batch, max_wait)
            if reserved == 0:
                return wait
            first = now + wait
            interval = 1.0 / budget.per_second
            slots.extend(first + k * interval for k in range(1, reserved))
            return wait

    def count_daily(self, key: str, cap: int, now: float) -> bool:
        return self._limiter.count_daily(key, cap, now)
