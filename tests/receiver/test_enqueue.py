"""BatchEnqueuer against a real redis-server: batching, dedup, the ledger, failures, time limits."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis
import redis.asyncio as aredis

from zoomq.runtime import ENQUEUE_SCRIPT, BatchEnqueuer, QueueUnavailable, build_task_message
from zoomq.runtime.ledger import DUE_KEY, MESSAGES_KEY, SUSPECT_KEY, Ledger
from zoomq.runtime.message import TaskMessage


def run(
    url: str, body: Callable[[BatchEnqueuer], Awaitable[Any]], drain: float = 2.0, **options: Any
) -> tuple[Any, list[int]]:
    """Run ``body`` against a started enqueuer; returns its result and the batch sizes."""
    sizes: list[int] = []

    async def main() -> Any:
        client = aredis.Redis.from_url(url, socket_timeout=2)
        enqueuer = BatchEnqueuer(client, on_batch=lambda n, _: sizes.append(n), **options)
        await enqueuer.start()
        try:
            return await body(enqueuer)
        finally:
            await enqueuer.stop(drain)
            await client.aclose()

    return asyncio.run(main()), sizes


def test_concurrent_items_share_rounds_and_all_land(
    redis_url: str, redis_client: redis.Redis
) -> None:
    """500 concurrent submissions take far fewer than 500 round trips, and none is lost."""

    async def body(enqueuer: BatchEnqueuer) -> list[bool]:
        return await asyncio.gather(
            *(enqueuer.enqueue("q", b"m%d" % i, dedup_key=f"d{i}", ttl=60) for i in range(500))
        )

    results, sizes = run(redis_url, body, max_batch=128)
    assert results == [True] * 500
    assert sum(sizes) == 500
    assert len(sizes) < 20
    assert max(sizes) <= 128
    assert redis_client.llen("q") == 500


def test_duplicates_are_reported_within_and_across_rounds(
    redis_url: str, redis_client: redis.Redis
) -> None:
    """The same dedup key enqueues once, whether repeated in one round or a later one."""

    async def body(enqueuer: BatchEnqueuer) -> tuple[list[bool], bool]:
        same_round = await asyncio.gather(
            *(enqueuer.enqueue("q", b"m", dedup_key="k", ttl=60) for _ in range(5))
        )
        later = await enqueuer.enqueue("q", b"m", dedup_key="k", ttl=60)
        return same_round, later

    (same_round, later), _ = run(redis_url, body)
    assert sorted(same_round) == [False, False, False, False, True]
    assert later is False
    assert redis_client.llen("q") == 1
    assert 0 < redis_client.ttl("k") <= 60


def test_without_dedup_key_every_item_is_pushed(redis_url: str, redis_client: redis.Redis) -> None:
    """No dedup key: a plain push each time."""

    async def body(enqueuer: BatchEnqueuer) -> list[bool]:
        return [await enqueuer.enqueue("q", b"same") for _ in range(3)]

    results, _ = run(redis_url, body)
    assert results == [True, True, True]
    assert redis_client.llen("q") == 3


def test_script_reloaded_after_redis_forgets_it(redis_url: str, redis_client: redis.Redis) -> None:
    """After SCRIPT FLUSH (as after a restart) the next round reloads the script."""

    async def body(enqueuer: BatchEnqueuer) -> list[bool]:
        first = await enqueuer.enqueue("q", b"1", dedup_key="a", ttl=60)
        redis_client.script_flush()
        second = await enqueuer.enqueue("q", b"2", dedup_key="b", ttl=60)
        return [first, second]

    results, _ = run(redis_url, body)
    assert results == [True, True]
    assert redis_client.llen("q") == 2


def test_a_refused_push_fails_alone_and_marks_nothing(
    redis_url: str, redis_client: redis.Redis
) -> None:
    """WRONGTYPE on one queue fails that item only, and its dedup key stays unset."""
    redis_client.set("not-a-list", "x")

    async def body(enqueuer: BatchEnqueuer) -> Any:
        return await asyncio.gather(
            enqueuer.enqueue("q", b"ok", dedup_key="good", ttl=60),
            enqueuer.enqueue("not-a-list", b"no", dedup_key="bad", ttl=60),
            return_exceptions=True,
        )

    (good, bad), _ = run(redis_url, body)
    assert good is True
    assert isinstance(bad, QueueUnavailable)
    assert "WRONGTYPE" in str(bad)
    assert redis_client.exists("bad") == 0
    assert redis_client.llen("q") == 1


def test_script_alone_is_atomic_per_item(redis_client: redis.Redis) -> None:
    """The script itself: 1 pushes and marks, 0 for a marked key, error text for a bad push."""
    redis_client.set("str", "x")
    ledger = [DUE_KEY, MESSAGES_KEY, SUSPECT_KEY]
    keys = ["k1", "q", "k1", "q", "k2", "str"]
    argv = [1000.0, 60, b"a", "t-a", 60, b"b", "t-b", 60, b"c", "t-c"]
    reply = redis_client.eval(ENQUEUE_SCRIPT, 9, *ledger, *keys, *argv)
    assert reply[:2] == [1, 0]
    assert b"WRONGTYPE" in reply[2]
    assert redis_client.lrange("q", 0, -1) == [b"a"]
    assert redis_client.exists("k2") == 0
    # Only the pushed item is in the ledger: not the duplicate, not the refused one.
    assert redis_client.hgetall(MESSAGES_KEY) == {b"t-a": b"a"}
    assert redis_client.zrange(DUE_KEY, 0, -1, withscores=True) == [(b"t-a", 1000.0)]


def test_an_event_message_enters_the_ledger_with_its_push(
    redis_url: str, redis_client: redis.Redis
) -> None:
    """With a task id, the message is in the ledger exactly when it is in the queue."""
    message = build_task_message("zoomq.events.handle", [{"event": "x"}], {}, "evt-1", "events")

    async def body(enqueuer: BatchEnqueuer) -> list[bool]:
        return [
            await enqueuer.enqueue("events", message, dedup_key="d", ttl=60, task_id="evt-1"),
            await enqueuer.enqueue("events", b"again", dedup_key="d", ttl=60, task_id="evt-1"),
            await enqueuer.enqueue("events", b"plain"),
        ]

    before = time.time()
    results, _ = run(redis_url, body)
    assert results == [True, False, True]
    assert redis_client.lrange("events", 0, -1) == [b"plain", message]
    assert redis_client.hgetall(MESSAGES_KEY) == {b"evt-1": message}
    [(task_id, stamped)] = redis_client.zrange(DUE_KEY, 0, -1, withscores=True)
    assert task_id == b"evt-1"
    assert before <= stamped <= time.time()
    [entry] = Ledger(redis_client).entries(["evt-1"])
    assert entry == TaskMessage("zoomq.events.handle", [{"event": "x"}], {}, "evt-1", 0, "events")


def test_the_event_task_starting_drops_its_ledger_record(
    redis_url: str, redis_client: redis.Redis
) -> None:
    """task_prerun of the event task removes what the receiver's push recorded."""
    from worker.app import create_celery
    from worker.signals import _started
    from zoomq.settings import Settings

    message = build_task_message("zoomq.events.handle", [{"event": "x"}], {}, "evt-2", "events")

    async def body(enqueuer: BatchEnqueuer) -> bool:
        return await enqueuer.enqueue("events", message, task_id="evt-2")

    assert run(redis_url, body)[0] is True
    ledger = Ledger(redis_client)
    assert ledger.count() == 1
    app = create_celery(Settings(_env_file=None, redis_url=redis_url))
    _started(task_id="evt-2", task=app.tasks["zoomq.events.handle"])
    app.close()
    assert ledger.count() == 0
    assert redis_client.hlen(MESSAGES_KEY) == 0


def test_unresponsive_redis_times_out(unanswering_port: int) -> None:
    """A Redis that accepts but never answers gives QueueUnavailable after ``timeout``."""
    url = f"redis://127.0.0.1:{unanswering_port}/0"

    async def body(enqueuer: BatchEnqueuer) -> float:
        started = time.monotonic()
        with pytest.raises(QueueUnavailable, match="did not confirm"):
            await enqueuer.enqueue("q", b"m", dedup_key="k", ttl=60)
        return time.monotonic() - started

    elapsed, _ = run(url, body, drain=0.1, timeout=0.3)
    assert 0.25 < elapsed < 1.0


def test_refused_connection_fails_fast() -> None:
    """Nothing listening: the caller learns at once, without waiting for the timeout."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"

    async def body(enqueuer: BatchEnqueuer) -> float:
        started = time.monotonic()
        with pytest.raises(QueueUnavailable, match="Redis unavailable"):
            await enqueuer.enqueue("q", b"m")
        return time.monotonic() - started

    elapsed, _ = run(url, body, timeout=5)
    assert elapsed < 1.0


def test_backlog_is_bounded(unanswering_port: int) -> None:
    """With Redis stuck, submissions beyond max_pending are refused immediately."""
    url = f"redis://127.0.0.1:{unanswering_port}/0"

    async def body(enqueuer: BatchEnqueuer) -> list[Any]:
        return await asyncio.gather(
            *(enqueuer.enqueue("q", b"m") for _ in range(6)), return_exceptions=True
        )

    results, _ = run(url, body, drain=0.1, timeout=0.3, max_batch=1, max_pending=2)
    errors = [str(r) for r in results]
    assert all(isinstance(r, QueueUnavailable) for r in results)
    assert sum("already wait" in e for e in errors) >= 3


def test_not_running_refuses(redis_url: str) -> None:
    """Before start (or after stop) nothing is accepted."""

    async def main() -> None:
        client = aredis.Redis.from_url(redis_url)
        enqueuer = BatchEnqueuer(client)
        with pytest.raises(QueueUnavailable, match="not running"):
            await enqueuer.enqueue("q", b"m")
        await enqueuer.start()
        assert enqueuer.running
        await enqueuer.stop()
        with pytest.raises(QueueUnavailable, match="not running"):
            await enqueuer.enqueue("q", b"m")
        await client.aclose()

    asyncio.run(main())


def test_bad_parameters_are_refused(redis_url: str) -> None:
    """A dedup key without a TTL, or a non-positive limit, is a programming error."""

    async def body(enqueuer: BatchEnqueuer) -> None:
        with pytest.raises(ValueError, match="ttl"):
            await enqueuer.enqueue("q", b"m", dedup_key="k")

    run(redis_url, body)
    with pytest.raises(ValueError, match="positive"):
        BatchEnqueuer(aredis.Redis.from_url(redis_url), timeout=0)
