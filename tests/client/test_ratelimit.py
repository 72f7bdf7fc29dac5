"""The distributed limiter and the rate-limit header parser, against a real redis-server."""

from __future__ import annotations

import multiprocessing as mp
import time
from datetime import UTC, datetime

import pytest
import redis

from zoomq.client.ratelimit import (
    Budget,
    MemoryRateLimiter,
    RedisRateLimiter,
    parse_rate_limit,
)

NOW = datetime(2027, 1, 15, 8, 0, tzinfo=UTC).timestamp()


def _worker(url: str, n: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    limiter = RedisRateLimiter(redis.Redis.from_url(url))
    slots = []
    for _ in range(n):
        wait = limiter.reserve("acct:light", Budget(20), max_wait=30)
        slots.append(time.time() + wait)
        time.sleep(wait)
    out.put(slots)


def test_budget_holds_across_processes(redis_url: str) -> None:
    """Four processes sharing one 20/s budget never get more than 20 slots in any second."""
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_worker, args=(redis_url, 15, out)) for _ in range(4)]
    for p in procs:
        p.start()
    slots = sorted(s for _ in procs for s in out.get(timeout=60))
    for p in procs:
        p.join(10)
    assert len(slots) == 60
    worst = max(sum(1 for s in slots if t <= s < t + 1.0) for t in slots)
    assert worst <= 21  # 20 per second, plus the one on the window's edge
    assert slots[-1] - slots[0] >= (60 - 1) / 20 - 0.05


def test_slot_beyond_max_wait_is_not_reserved(redis_client: redis.Redis) -> None:
    """A caller that will not wait gets a negative answer, and the bucket is unchanged."""
    limiter = RedisRateLimiter(redis_client)
    budget = Budget(1)
    assert limiter.reserve("k", budget, max_wait=0) == 0
    refused = limiter.reserve("k", budget, max_wait=0.1)
    assert refused < 0
    assert 0.5 < -refused <= 1.0
    # not reserved: the next caller willing to wait gets the same slot, not a later one
    assert 0.5 < limiter.reserve("k", budget, max_wait=5) <= 1.0


def test_daily_counter_in_redis(redis_client: redis.Redis) -> None:
    """The daily counter admits exactly ``cap`` requests per UTC day."""
    limiter = RedisRateLimiter(redis_client)
    assert [limiter.count_daily("acct:user:u1", 3, NOW) for _ in range(4)] == [True] * 3 + [False]
    assert limiter.count_daily("acct:user:u1", 3, NOW + 86400)  # next day


def test_memory_limiter_matches() -> None:
    """The in-process limiter spaces requests the same way."""
    from tests.client.fakes import FakeClock

    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    waits = [limiter.reserve("k", Budget(4), max_wait=10) for _ in range(5)]
    assert waits == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])


@pytest.mark.parametrize(
    ("headers", "message", "retry_after", "daily"),
    [
        ({"Retry-After": "3"}, "per-second", 3.0, False),
        ({"Retry-After": "Fri, 15 Jan 2027 08:00:30 GMT"}, "", 30.0, False),
        (
            {"Retry-After": "2027-01-16T00:00:00Z", "X-RateLimit-Type": "Daily-limit"},
            "",
            57600.0,
            True,
        ),
        ({}, "You have reached the maximum daily rate limit for this API.", 57600.0, True),
        ({}, "per-second limit", None, False),
        ({"X-RateLimit-Reset": "10"}, "", 10.0, False),
    ],
)
def test_parse_rate_limit(
    headers: dict[str, str], message: str, retry_after: float | None, daily: bool
) -> None:
    """Retry-After as seconds, HTTP date or ISO datetime; daily detection by type or message."""
    import httpx

    info = parse_rate_limit(httpx.Headers(headers), message, NOW)
    assert info.retry_after == (pytest.approx(retry_after) if retry_after is not None else None)
    assert info.daily is daily
