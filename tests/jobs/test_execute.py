"""The chunk executor over real HTTP to the sandbox and a real Redis: exactly once per item."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tasks.policy import decide
from tests.sandbox_settings import sandbox_settings
from zoomq.client.http import ZoomClient
from zoomq.client.ratelimit import RedisRateLimiter, SlotBank
from zoomq.jobs.execute import ChunkExecutor, item_key
from zoomq.jobs.models import ItemState, JobRequest, JobStatus
from zoomq.jobs.submit import Fanout, cancel, submit
from zoomq.metrics import BULK_ITEMS
from zoomq.runtime.idempotency import IdempotencyStore
from zoomq.runtime.jobs import JobStore
from zoomq.runtime.keys import Keys
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import JobsSettings, Settings


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=4, rate_limits=False)) as server:
        yield server


@pytest.fixture
def settings(sandbox: SandboxServer, redis_url: str) -> Settings:
    return sandbox_settings(sandbox, redis_url, jobs=JobsSettings(chunk_size=50, concurrency=8))


@pytest.fixture
def parts(
    settings: Settings, redis_client: redis.Redis
) -> Iterator[tuple[JobStore, ChunkExecutor, Fanout]]:
    keys = Keys()
    store = JobStore(redis_client, keys=keys)
    bank = SlotBank(RedisRateLimiter(redis_client))
    client = ZoomClient(settings, settings.connection(), redis_client=redis_client, limiter=bank)
    executor = ChunkExecutor(
        store,
        IdempotencyStore(redis_client, keys=keys),
        lambda name: client,
        queue=settings.queue,
        jobs=settings.jobs,
        decide=decide,
    )
    yield store, executor, Fanout(settings.jobs)
    executor.close()
    client.close()


def _registrants(sandbox: SandboxServer, meeting: int) -> list[dict[str, Any]]:
    with sandbox.state.lock:
        return list(sandbox.state.store.meeting_registrants.get(meeting, {}).values())


def test_a_chunk_runs_every_item_once_and_a_redelivery_repeats_nothing(
    sandbox: SandboxServer, parts: tuple[JobStore, ChunkExecutor, Fanout]
) -> None:
    store, executor, fanout = parts
    meeting = sandbox.state.seeded.registration_meeting_id
    items = [
        {"meetingId": meeting, "email": f"x{i}@example.com", "firstName": "X"} for i in range(40)
    ]
    view, _ = submit(
        store, fanout, "a", JobRequest(action="addMeetingRegistrant", items=items, batch=False)
    )
    before = len(_registrants(sandbox, meeting))
    path = f"/v2/meetings/{meeting}/registrants"
    report = executor.run(view.job_id, list(range(40)), owner="o1")
    assert report.counts["succeeded"] == 40
    assert report.finished_job
    assert sandbox.state.count("POST", path) == 40
    again = executor.run(view.job_id, list(range(40)), owner="o2")
    assert again.counts == {}  # every item terminal: nothing started
    assert sandbox.state.count("POST", path) == 40
    assert len(_registrants(sandbox, meeting)) == before + 40
    done = store.get(view.job_id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED
    results = list(store.iter_results(view.job_id))
    assert {r.output["data"]["registrant_id"] for r in results if r.output} == {
        r["id"] for r in _registrants(sandbox, meeting) if r["email"].startswith("x")
    }


def test_a_half_done_chunk_is_finished_by_its_redelivery_without_repeating(
    sandbox: SandboxServer, parts: tuple[JobStore, ChunkExecutor, Fanout]
) -> None:
    """Items whose steps are done but whose outcomes were never written (the worker died in
    between) are replayed from their records: no second POST."""
    store, executor, fanout = parts
    meeting = sandbox.state.seeded.registration_meeting_id
    items = [
        {"meetingId": meeting, "email": f"h{i}@example.com", "firstName": "H"} for i in range(10)
    ]
    view, _ = submit(
        store, fanout, "a", JobRequest(action="addMeetingRegistrant", items=items, batch=False)
    )
    executor.run(view.job_id, list(range(10)), owner="o1")
    # Forget the outcomes, as if the delivery died after Zoom answered.
    store.redis.delete(f"zoomq:job:{view.job_id}:st")
    store.redis.hset(f"zoomq:job:{view.job_id}", mapping={"n:queued": 10, "n:succeeded": 0})
    store.redis.hdel(f"zoomq:job:{view.job_id}", "finished_at")
    report = executor.run(view.job_id, list(range(10)), owner="o2")
    assert report.counts["succeeded"] == 10
    assert sandbox.state.count("POST", f"/v2/meetings/{meeting}/registrants") == 10


def test_zoom_refusals_fail_alone_with_zoom_code(
    sandbox: SandboxServer, parts: tuple[JobStore, ChunkExecutor, Fanout]
) -> None:
    store, executor, fanout = parts
    meeting = sandbox.state.seeded.registration_meeting_id
    items = [
        {
            "meetingId": meeting if i % 5 else 999_000_111,
            "email": f"f{i}@example.com",
            "firstName": "F",
        }
        for i in range(20)
    ]
    view, _ = submit(store, fanout, "a", JobRequest(action="addMeetingRegistrant", items=items))
    before = {s: BULK_ITEMS.labels(s)._value.get() for s in ("succeeded", "failed")}
    report = executor.run(view.job_id, list(range(20)), owner="o")
    assert (report.counts["succeeded"], report.counts["failed"]) == (16, 4)
    # zoomq_bulk_items_total counts what was stored, by state.
    after = {s: BULK_ITEMS.labels(s)._value.get() for s in ("succeeded", "failed")}
    assert {s: after[s] - before[s] for s in after} == {"succeeded": 16, "failed": 4}
    failed, _ = store.items(view.job_id, ItemState.FAILED)
    assert [r.index for r in failed] == [0, 5, 10, 15]
    assert {(r.error.code, r.error.status) for r in failed if r.error} == {(3001, 404)}


def test_a_lease_left_by_a_killed_worker_holds_back_its_item_only(
    sandbox: SandboxServer, parts: tuple[JobStore, ChunkExecutor, Fanout]
) -> None:
    """After a kill -9 one item's step lease is still held: that item waits for it, the
    rest of the chunk runs now instead of being handed back with it."""
    store, executor, fanout = parts
    meeting = sandbox.state.seeded.registration_meeting_id
    items = [
        {"meetingId": meeting, "email": f"l{i}@example.com", "firstName": "L"} for i in range(10)
    ]
    request = JobRequest(action="addMeetingRegistrant", items=items, batch=False)
    view, _ = submit(store, fanout, "a", request)
    executor.steps.begin(item_key(view.job_id, 3), "a-killed-worker", 300.0)
    told: list[bool] = []
    report = executor.run(
        view.job_id, list(range(10)), owner="o", drained=lambda: told.append(True)
    )
    assert report.counts["succeeded"] == 9
    assert report.again is not None
    assert report.again.indexes == [3]
    # An item handed back runs again on this turn: the job's next chunk is not sent early.
    assert told == []


def test_a_cancelled_job_takes_no_more_items(
    sandbox: SandboxServer, parts: tuple[JobStore, ChunkExecutor, Fanout]
) -> None:
    store, executor, fanout = parts
    view, _ = submit(
        store, fanout, "a", JobRequest(action="getUser", items=[{"userId": "me"}] * 10)
    )
    cancel(store, fanout, view.job_id)
    report = executor.run(view.job_id, list(range(10)), owner="o")
    assert report.cancelled
    assert sandbox.state.count("GET", "/v2/users/me") == 0
    done = store.get(view.job_id)
    assert done is not None
    assert done.counts[ItemState.CANCELLED] == 10
