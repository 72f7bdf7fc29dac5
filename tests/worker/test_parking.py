"""The parking lot's Lua moves and the worker's scheduler, against a real redis-server."""

from __future__ import annotations

import threading

import redis

from worker.scheduler import ParkingScheduler
from zoomq.runtime.message import TaskMessage
from zoomq.runtime.parking import ParkingLot

NOW = 1_800_000_000.0


def message(n: int) -> TaskMessage:
    return TaskMessage(
        name="zoomq.actions.getUser",
        args=[{"userId": f"u{n}"}],
        kwargs={"meta": {"correlation_id": f"c{n}"}},
        task_id=f"t{n}",
        attempts=2,
        queue="actions",
    )


def test_park_keeps_the_full_message(redis_client: redis.Redis) -> None:
    """Name, args, kwargs, id, attempts and queue survive the round trip."""
    lot = ParkingLot(redis_client)
    lot.park(message(1), NOW + 10, {"type": "DailyLimitExceeded"})
    (entry,) = lot.entries()
    assert entry.message == message(1)
    assert entry.due_at == NOW + 10
    assert entry.reason == {"type": "DailyLimitExceeded"}


def test_claim_due_moves_only_due_entries(redis_client: redis.Redis) -> None:
    """Due entries move to the in-flight set; later ones stay parked."""
    lot = ParkingLot(redis_client)
    lot.park(message(1), NOW - 1)
    lot.park(message(2), NOW)
    lot.park(message(3), NOW + 60)
    claimed = lot.claim_due(NOW)
    assert sorted(e.message.task_id for e in claimed) == ["t1", "t2"]
    assert lot.count() == 1
    assert lot.in_flight() == 2
    for entry in claimed:
        lot.sent(entry)
    assert lot.in_flight() == 0
    assert lot.claim_due(NOW) == []


def test_concurrent_claimers_never_share_an_entry(redis_client: redis.Redis) -> None:
    """The Lua move is atomic: eight schedulers racing claim each entry exactly once."""
    lot = ParkingLot(redis_client)
    for n in range(200):
        lot.park(message(n), NOW - n)
    got: list[str] = []
    lock = threading.Lock()

    def claim() -> None:
        mine = ParkingLot(redis.Redis(connection_pool=redis_client.connection_pool))
        while batch := mine.claim_due(NOW, limit=7):
            with lock:
                got.extend(e.message.task_id for e in batch)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(got) == sorted(f"t{n}" for n in range(200))


def test_recover_brings_back_entries_whose_sender_died(redis_client: redis.Redis) -> None:
    """An entry claimed long ago and never confirmed sent becomes due again."""
    lot = ParkingLot(redis_client)
    lot.park(message(1), NOW - 5)
    (claimed,) = lot.claim_due(NOW)
    assert lot.recover(older_than=60, now=NOW + 30) == 0
    assert lot.recover(older_than=60, now=NOW + 61) == 1
    (again,) = lot.claim_due(NOW + 61)
    assert again.message == claimed.message


def test_scheduler_sends_due_messages_and_keeps_failed_sends(redis_client: redis.Redis) -> None:
    """A tick sends what is due; a send that fails stays in flight for recovery."""
    lot = ParkingLot(redis_client)
    lot.park(message(1), NOW - 1)
    lot.park(message(2), NOW - 1)
    lot.park(message(3), NOW + 100)
    sent: list[TaskMessage] = []

    def send(msg: TaskMessage) -> None:
        if msg.task_id == "t2":
            raise ConnectionError("broker away")
        sent.append(msg)

    scheduler = ParkingScheduler(lot, send, stale_after=60, clock=lambda: NOW)
    assert scheduler.tick() == 1
    assert [m.task_id for m in sent] == ["t1"]
    assert lot.in_flight() == 1
    assert lot.count() == 1
    later = ParkingScheduler(lot, sent.append, stale_after=60, clock=lambda: NOW + 61)
    assert later.tick() == 1
    assert [m.task_id for m in sent] == ["t1", "t2"]


def test_scheduler_thread_starts_and_stops(redis_client: redis.Redis) -> None:
    """The background thread sends a due entry within its interval, and stops cleanly."""
    lot = ParkingLot(redis_client)
    done = threading.Event()
    scheduler = ParkingScheduler(lot, lambda m: done.set(), interval=0.05).start()
    try:
        lot.park(message(1), 0)
        assert done.wait(5)
    finally:
        scheduler.stop()
    assert not scheduler.running


def test_an_unreadable_entry_is_set_aside_and_does_not_block_the_batch(
    redis_client: redis.Redis,
) -> None:
    """A corrupt member goes to the bad set; the good ones in the same batch are claimed."""
    from zoomq.runtime.message import TaskMessage
    from zoomq.runtime.parking import BAD_KEY, MOVING_KEY, PARKED_KEY, ParkingLot

    lot = ParkingLot(redis_client, clock=lambda: 1000.0)
    lot.park(TaskMessage("zoomq.actions.getUser", [{"userId": "me"}], {}, "t-1"), 10.0)
    redis_client.zadd(PARKED_KEY, {b"{not json": 5.0})
    claimed = lot.claim_due()
    assert [c.message.task_id for c in claimed] == ["t-1"]
    assert redis_client.zrange(BAD_KEY, 0, -1) == [b"{not json"]
    assert redis_client.zrange(MOVING_KEY, 0, -1) == [claimed[0].raw.encode()]
