"""The archive's scheduled sync: one round per interval across workers, the last N days."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import redis
from celery import Celery

from tasks.runtime import get_runtime
from tasks.sync import SYNC_TASK, run_sync, sync_lock_key
from worker.app import create_celery
from worker.scheduler import SyncScheduler, sync_window
from worker.signals import _sync_scheduler
from zoomq.settings import Settings

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


@pytest.fixture
def app(settings: Settings, tmp_path: Path) -> Iterator[Celery]:
    archive = settings.archive.model_copy(update={"dest": str(tmp_path / "archive")})
    app = create_celery(settings.model_copy(update={"archive": archive}))
    yield app
    get_runtime(app).close()
    app.close()


def test_the_worker_schedules_only_when_the_interval_is_set(settings: Settings) -> None:
    """An interval of 0 (or the archive switched off) means no scheduler; else one on the
    round key under the key prefix, with the configured interval and window."""
    on = create_celery(settings)
    scheduler = _sync_scheduler(on, get_runtime(on))
    assert isinstance(scheduler, SyncScheduler)
    assert (scheduler.key, scheduler.interval, scheduler.days) == (
        "zoomq:archive:sync:round",
        3600.0,
        7,
    )
    for change in ({"sync_interval": 0.0}, {"enabled": False}):
        archive = settings.archive.model_copy(update=change)
        off = create_celery(settings.model_copy(update={"archive": archive}))
        assert _sync_scheduler(off, get_runtime(off)) is None


def test_a_second_sync_of_a_connection_is_busy(app: Celery, redis_client: redis.Redis) -> None:
    """While one sync holds the connection's lock another returns busy, listing nothing."""
    task = app.tasks[SYNC_TASK]
    held = redis_client.lock(sync_lock_key("zoomq", "default"), timeout=60)
    assert held.acquire(blocking=False)
    task.push_request(id="sync-1", retries=0, called_directly=False)
    try:
        busy = run_sync(task, "default", str(TODAY), str(TODAY), None)
        held.release()
        done = run_sync(task, "default", str(TODAY), str(TODAY), None)
    finally:
        task.pop_request()
    assert busy == {"status": "busy", "connection": "default"}
    assert done["status"] == "done"
    assert done["users"] >= 1
