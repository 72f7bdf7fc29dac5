"""Every store writes under the prefix of the ``Keys`` it is given, and only there."""

from __future__ import annotations

import asyncio

import redis
import redis.asyncio as aredis

from tasks.runtime import Runtime
from zoomq.client.ratelimit import Budget, RedisRateLimiter
from zoomq.client.tokens import RedisTokenStore, Token
from zoomq.runtime import BatchEnqueuer, build_task_message
from zoomq.runtime.dlq import DeadLetterStore
from zoomq.runtime.idempotency import IdempotencyStore
from zoomq.runtime.keys import Keys
from zoomq.runtime.ledger import Ledger
from zoomq.runtime.message import TaskMessage
from zoomq.runtime.parking import ParkingLot
from zoomq.settings import Settings

OTHER = Keys("other")
MESSAGE = TaskMessage("zoomq.actions.getUser", [{"userId": "me"}], {}, "t-1", 0, "actions")


def names(client: redis.Redis) -> set[str]:
    return {k.decode() for k in client.keys("*")}


def test_the_default_prefix_keeps_the_historical_names() -> None:
    keys = Keys()
    assert (keys.ledger_due, keys.parked_moving, keys.dlq_index, keys.idempotency) == (
        "zoomq:ledger",
        "zoomq:parked:moving",
        "zoomq:dlq:index",
        "zoomq:idem",
    )


def test_every_store_writes_only_under_its_prefix(redis_client: redis.Redis) -> None:
    """Ledger, parking (bad entries too), dead letters, idempotency, tokens, rate limits."""
    Ledger(redis_client, keys=OTHER).record(MESSAGE, 1.0)
    lot = ParkingLot(redis_client, keys=OTHER)
    lot.park(MESSAGE, due_at=1.0)
    redis_client.zadd(OTHER.parked, {b"{not json": 1.0})
    assert [e.message for e in lot.claim_due(now=2.0)] == [MESSAGE]
    DeadLetterStore(redis_client, keys=OTHER).add(MESSAGE, {"type": "Boom"})
    store = IdempotencyStore(redis_client, keys=OTHER)
    assert store.claim_dispatch("k")
    store.begin("step", "owner", lease=30)
    tokens = RedisTokenStore(redis_client, OTHER.prefix)
    tokens.set("token:default", Token("access", expires_at=2e9), ttl=60)
    with tokens.lock("token:default", 5) as held:
        assert held
    limiter = RedisRateLimiter(redis_client, OTHER.prefix)
    limiter.reserve("acct", Budget(per_second=10), max_wait=1)
    limiter.count_daily("acct", cap=10, now=1e9)
    written = names(redis_client)
    assert written, "nothing was written"
    assert {k for k in written if not k.startswith("other:")} == set()
    assert {OTHER.ledger_due, OTHER.parked_moving, OTHER.parked_bad, OTHER.dlq_index} <= written


def test_the_receivers_enqueue_records_the_ledger_under_its_prefix(
    redis_url: str, redis_client: redis.Redis
) -> None:
    """The enqueue script takes the ledger's keys as KEYS[], from the enqueuer's Keys."""
    message = build_task_message("zoomq.events.handle", [{"event": "x"}], {}, "evt-1", "events")

    async def main() -> bool:
        client = aredis.Redis.from_url(redis_url)
        enqueuer = BatchEnqueuer(client, keys=OTHER)
        await enqueuer.start()
        try:
            seen = OTHER("seen", "default", "d")
            return await enqueuer.enqueue("events", message, dedup_key=seen, ttl=60, task_id="e")
        finally:
            await enqueuer.stop()
            await client.aclose()

    assert asyncio.run(main())
    assert names(redis_client) == {
        "events",  # the Celery queue keeps its name
        "other:seen:default:d",
        OTHER.ledger_due,
        OTHER.ledger_messages,
    }


def test_the_worker_runtime_hands_its_prefix_to_every_store(redis_url: str) -> None:
    runtime = Runtime(Settings(_env_file=None, redis_url=redis_url, zoomq_key_prefix="other"))
    try:
        assert runtime.ledger.due_key == OTHER.ledger_due
        assert runtime.parking.key == OTHER.parked
        assert runtime.dlq.entries_key == OTHER.dlq_entries
        assert runtime.store.prefix == OTHER.idempotency
    finally:
        runtime.close()
