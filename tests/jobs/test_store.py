"""The job store against a real redis-server: creation, idempotency, transitions, retention."""

from __future__ import annotations

import base64
import json

import pytest
import redis

from zoomq.errors import JobConflict
from zoomq.jobs.models import ItemError, ItemState, JobMeta, JobStatus
from zoomq.runtime.jobs import JobStore, Outcome, QueuedMessage
from zoomq.runtime.keys import Keys


class Clock:
    def __init__(self, now: float = 1_760_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(redis_client: redis.Redis, clock: Clock) -> JobStore:
    return JobStore(redis_client, keys=Keys("t"), clock=clock, retention=3600)


META = JobMeta(action="addMeetingRegistrant", connection="acme")


def _items(n: int) -> list[dict[str, object]]:
    return [{"meetingId": 1, "email": f"p{i}@example.com", "firstName": "P"} for i in range(n)]


def _chunks(job_id: str, n: int, size: int = 2) -> list[QueuedMessage]:
    return [
        QueuedMessage("q:bulk", f"msg-{k}".encode(), f"job:{job_id}:0:{k}")
        for k in range((n + size - 1) // size)
    ]


def test_a_committed_job_counts_its_items_queued_and_sends_a_window(
    store: JobStore, redis_client: redis.Redis
) -> None:
    """Items are stored, counted queued, and only ``window`` chunk messages reach the queue,
    each recorded in the ledger."""
    done = store.create("tenant-a", "d1", META, _items(7), chunks=_chunks, window=2)
    assert done.created
    view = store.get(done.job_id)
    assert view is not None
    assert (view.status, view.items, view.counts[ItemState.QUEUED]) == (JobStatus.QUEUED, 7, 7)
    assert redis_client.lrange("q:bulk", 0, -1) == [b"msg-1", b"msg-0"]
    assert store.waiting_chunks(done.job_id) == 2
    assert redis_client.hget("t:ledger:messages", f"job:{done.job_id}:0:0") == b"msg-0"
    assert store.inputs(done.job_id, [3])[3]["email"] == "p3@example.com"


def test_advance_sends_one_successor_per_finished_delivery(
    store: JobStore, redis_client: redis.Redis
) -> None:
    """A redelivered chunk that finishes again sends nothing more."""
    job = store.create("a", "d", META, _items(8), chunks=_chunks, window=1).job_id
    assert store.advance(job, f"job:{job}:0:0") == 1
    assert store.advance(job, f"job:{job}:0:0") == 0
    assert redis_client.llen("q:bulk") == 2


def test_same_key_same_body_is_the_same_job_and_another_body_conflicts(store: JobStore) -> None:
    """The idempotency key names one job per tenant and digest."""
    meta = META.model_copy(update={"idempotency_key": "k-1"})
    first = store.create("a", "d1", meta, _items(2))
    again = store.create("a", "d1", meta, _items(2))
    assert (again.job_id, again.created) == (first.job_id, False)
    with pytest.raises(JobConflict) as caught:
        store.create("a", "d2", meta, _items(2))
    assert caught.value.job_id == first.job_id
    other_tenant = store.create("b", "d2", meta, _items(2))
    assert other_tenant.created
    assert other_tenant.job_id != first.job_id


def test_another_tenant_never_sees_a_job(store: JobStore) -> None:
    job = store.create("a", "d", META, _items(1)).job_id
    assert store.get(job, "b") is None
    assert store.get(job, "a") is not None
    assert store.list_jobs("b") == ([], None)
    assert [v.job_id for v in store.list_jobs("a")[0]] == [job]


def test_a_job_not_committed_is_invisible(store: JobStore, redis_client: redis.Redis) -> None:
    """A submitter that died after storing items leaves nothing anyone can see."""
    job = store.create("a", "d", META, _items(3)).job_id
    redis_client.hset(f"t:job:{job}", "status", "storing")
    assert store.get(job) is None


def test_transitions_count_each_item_once_however_often_it_is_finished(
    store: JobStore, clock: Clock
) -> None:
    """start/finish again (a redelivered chunk) changes nothing; failed items are listed."""
    job = store.create("a", "d", META, _items(4)).job_id
    started = store.start(job, [0, 1, 2])
    assert started.items == {0: 1, 1: 1, 2: 1}
    assert not started.cancelled
    error = ItemError(type="NotFound", code=3001, message="Meeting does not exist", status=404)
    outcomes = [
        Outcome(0, ItemState.SUCCEEDED, output={"data": {"id": "r0"}}),
        Outcome(1, ItemState.FAILED, error=error),
    ]
    assert not store.finish(job, outcomes)
    assert not store.finish(job, outcomes)  # the same outcomes again
    # Redelivered: item 2 was running in a dead delivery and runs again; 0, 1 are done.
    assert store.start(job, [0, 1, 2]).items == {2: 2}
    view = store.get(job)
    assert view is not None
    assert view.counts == {
        ItemState.QUEUED: 1,
        ItemState.RUNNING: 1,
        ItemState.SUCCEEDED: 1,
        ItemState.FAILED: 1,
        ItemState.DEAD: 0,
        ItemState.CANCELLED: 0,
    }
    failed, cursor = store.items(job, ItemState.FAILED)
    assert cursor is None
    assert [(r.index, r.error) for r in failed] == [(1, error)]
    results = list(store.iter_results(job))
    assert [r.state for r in results] == [
        ItemState.SUCCEEDED,
        ItemState.FAILED,
        ItemState.RUNNING,
        ItemState.QUEUED,
    ]
    assert results[0].output == {"data": {"id": "r0"}}
    assert results[2].attempts == 2


def test_the_last_item_finishes_the_job_once_pushes_the_callback_and_sets_retention(
    store: JobStore, redis_client: redis.Redis, clock: Clock
) -> None:
    """Completion happens in exactly one step, which sends the callback and starts the
    retention clock on every key of the job."""
    job = store.create("a", "d", META, _items(2)).job_id
    store.start(job, [0, 1])
    callback = QueuedMessage("q:bulk", b"callback", f"job:{job}:callback:1")
    assert not store.finish(job, [Outcome(0, ItemState.SUCCEEDED, output={})], callback)
    clock.now += 10
    assert store.finish(job, [Outcome(1, ItemState.SUCCEEDED, output={})], callback)
    assert not store.finish(job, [Outcome(1, ItemState.SUCCEEDED, output={})], callback)
    assert redis_client.lrange("q:bulk", 0, -1) == [b"callback"]
    view = store.get(job)
    assert view is not None
    assert view.status is JobStatus.COMPLETED
    assert view.progress == 1.0
    assert view.finished_at is not None
    assert view.eta_seconds == 0.0
    for key in (f"t:job:{job}", f"t:job:{job}:in", f"t:job:{job}:st"):
        assert 3590 < redis_client.ttl(key) <= 3600, key


def test_cancel_cancels_queued_items_at_once_and_running_ones_finish(store: JobStore) -> None:
    job = store.create("a", "d", META, _items(5), chunks=_chunks, window=1).job_id
    store.start(job, [0])
    view = store.cancel(job)
    assert view is not None
    assert view.status is JobStatus.CANCELLED
    assert view.counts[ItemState.CANCELLED] == 4
    assert view.counts[ItemState.RUNNING] == 1
    assert view.finished_at is None
    assert store.start(job, [1, 2]).cancelled
    assert store.waiting_chunks(job) == 0
    assert store.finish(job, [Outcome(0, ItemState.SUCCEEDED, output={})])
    finished = store.get(job)
    assert finished is not None
    assert finished.finished_at is not None


def test_retry_failed_queues_failed_and_dead_items_again(store: JobStore) -> None:
    job = store.create("a", "d", META, _items(3)).job_id
    store.start(job, [0, 1, 2])
    error = ItemError(type="ServerError", message="boom", status=500)
    store.finish(
        job,
        [
            Outcome(0, ItemState.SUCCEEDED, output={}),
            Outcome(1, ItemState.FAILED, error=error),
            Outcome(2, ItemState.DEAD, error=error),
        ],
    )
    assert store.retry_failed(job) == [1, 2]
    view = store.get(job)
    assert view is not None
    assert view.status is JobStatus.RUNNING
    assert view.finished_at is None
    assert view.counts[ItemState.QUEUED] == 2
    assert store.items(job, ItemState.FAILED) == ([], None)
    assert store.start(job, [1, 2]).items == {1: 2, 2: 2}


def test_rate_and_eta_come_from_recent_progress(store: JobStore, clock: Clock) -> None:
    job = store.create("a", "d", META, _items(100)).job_id
    store.start(job, list(range(100)))
    for n in range(10):
        clock.now += 1
        store.finish(
            job, [Outcome(i, ItemState.SUCCEEDED, output={}) for i in range(n * 5, n * 5 + 5)]
        )
    view = store.get(job)
    assert view is not None
    assert 4.0 <= view.rate <= 6.0
    assert view.eta_seconds is not None
    assert 8 < view.eta_seconds < 13


def test_paging_by_state_walks_every_match(store: JobStore) -> None:
    job = store.create("a", "d", META, _items(30)).job_id
    store.start(job, list(range(30)))
    error = ItemError(type="BadRequest", message="no", status=400, code=300)
    store.finish(job, [Outcome(i, ItemState.FAILED, error=error) for i in range(0, 30, 3)])
    seen: list[int] = []
    cursor: int | None = 0
    while cursor is not None:
        page, cursor = store.items(job, ItemState.FAILED, cursor, 4)
        seen += [r.index for r in page]
    assert seen == list(range(0, 30, 3))
    page, cursor = store.items(job, ItemState.RUNNING, 0, 5)
    assert [r.index for r in page] == [1, 2, 4, 5, 7]
    assert cursor == 8


def test_chunk_messages_keep_their_bytes(store: JobStore, redis_client: redis.Redis) -> None:
    """A message with newlines escaped inside (JSON never holds a raw one) passes intact."""
    body = json.dumps({"body": base64.b64encode(b"x\ny").decode(), "t": "a\nb"}).encode()

    def one(job_id: str, n: int) -> list[QueuedMessage]:
        return [QueuedMessage("q:bulk", body, f"job:{job_id}:0:0")]

    store.create("a", "d", META, _items(1), chunks=one, window=1)
    assert redis_client.lpop("q:bulk") == body
