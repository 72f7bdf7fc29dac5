"""The archive's scheduled sync: one round per interval across workers, the last N days."""

from __future__ import annotations

import threading
from datetime import date

import redis

from worker.scheduler import SyncScheduler, sync_window

TODAY = date(2026, 3, 10)
KEY = "zoomq:archive:sync:round"


def scheduler(
    client: redis.Redis, sent: list[tuple[str, date, date]], *, interval: float = 3600.0
) -> SyncScheduler:
    return SyncScheduler(
        client,
        lambda conn, start, end: sent.append((conn, start, end)),
        lambda: ["b", "a"],
        key=KEY,
        interval=interval,
        days=7,
        today=lambda: TODAY,
    )


def test_the_window_is_the_last_n_days_up_to_today() -> None:
    """Seven days: today and the six before it; zero days still means today."""
    assert sync_window(TODAY, 7) == (date(2026, 3, 4), TODAY)
    assert sync_window(TODAY, 0) == (TODAY, TODAY)


def test_one_round_per_interval_across_workers(redis_client: redis.Redis) -> None:
    """Two workers' schedulers on one Redis: the first sends a sync per connection, the other
    and the first again (within the interval) send nothing."""
    sent: list[tuple[str, date, date]] = []
    first, second = scheduler(redis_client, sent), scheduler(redis_client, sent)
    assert first.tick() == 2
    assert sent == [("a", date(2026, 3, 4), TODAY), ("b", date(2026, 3, 4), TODAY)]
    assert second.tick() == 0
    assert first.tick() == 0
    assert len(sent) == 2
    ttl = redis_client.pttl(KEY)
    assert 0 < ttl <= 3_600_000  # the round's key expires on its own: a dead worker is fine


def test_the_next_round_comes_once_the_interval_is_over(redis_client: redis.Redis) -> None:
    """The thread sends again after the interval, whichever worker takes the round."""
    sent: list[tuple[str, date, date]] = []
    two_rounds = threading.Event()

    def send(conn: str, start: date, end: date) -> None:
        sent.append((conn, start, end))
        if len(sent) >= 4:
            two_rounds.set()

    running = SyncScheduler(
        redis_client,
        send,
        lambda: ["a", "b"],
        key=KEY,
        interval=0.2,
        days=1,
        today=lambda: TODAY,
        poll=0.05,
    ).start()
    try:
        assert two_rounds.wait(10)
    finally:
        running.stop()
    assert sent[:4] == [("a", TODAY, TODAY), ("b", TODAY, TODAY)] * 2
