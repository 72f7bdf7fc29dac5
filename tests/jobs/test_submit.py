"""Submitting a job: validation before anything is stored, fan-out a real worker can read."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis

from zoomq.errors import InvalidInput, InvalidItems, JobConflict
from zoomq.jobs.models import JobRequest, JobStatus
from zoomq.jobs.submit import Fanout, Validated, cancel, retry_failed, submit, validate
from zoomq.runtime.jobs import JobStore, Outcome
from zoomq.runtime.keys import Keys
from zoomq.runtime.names import RUN_CHUNK_TASK
from zoomq.settings import JobsSettings


@pytest.fixture
def store(redis_client: redis.Redis) -> JobStore:
    return JobStore(redis_client, keys=Keys("t"))


@pytest.fixture
def fanout() -> Fanout:
    return Fanout(JobsSettings(chunk_size=10, window=2, max_errors=3))


def _items(n: int, meeting: int = 85746065432) -> list[dict[str, object]]:
    return [
        {"meetingId": meeting, "email": f"p{i}@example.com", "firstName": "P"} for i in range(n)
    ]


def test_every_bad_item_is_named_by_index_and_field_and_nothing_is_stored(
    store: JobStore, fanout: Fanout, redis_client: redis.Redis
) -> None:
    items = _items(20)
    items[3]["email"] = "not-an-email"
    items[7] = {"meetingId": 1, "email": "a@example.com", "firstName": "A", "colour": "red"}
    items[9] = "a string"  # type: ignore[call-overload]
    del items[12]["firstName"]
    items[15]["email"] = "also wrong"
    with pytest.raises(InvalidItems) as caught:
        # As parsed NDJSON lines: a line that is not an object is named too.
        submit(store, fanout, "a", JobRequest(action="addMeetingRegistrant"), iter(items))
    refused = caught.value
    assert refused.count == 5
    assert [(e["index"], e["field"]) for e in refused.errors] == [
        (3, "email"),
        (7, "colour"),
        (9, "item"),
    ]
    assert redis_client.keys("*") == []


def test_a_job_needs_items_within_the_limit(store: JobStore, fanout: Fanout) -> None:
    """No items is a request error naming ``items``, with no made-up item index."""
    with pytest.raises(InvalidInput) as caught:
        submit(store, fanout, "a", JobRequest(action="getUser"), iter([]))
    assert not isinstance(caught.value, InvalidItems)
    assert caught.value.errors == [{"field": "items", "message": "must not be empty"}]
    with validate_closed("getUser", ({"userId": "me"} for _ in range(10)), max_items=4) as over:
        assert (over.count, over.errors[0].index, over.errors[0].field) == (1, 4, "items")


def test_count_is_items_and_the_list_says_when_it_is_cut(store: JobStore, fanout: Fanout) -> None:
    """count = invalid items, total = their invalid fields, truncated past max_errors."""
    items: list[object] = [{"meetingId": 1, "email": "x", "colour": "red"} for _ in range(4)]
    items.append(7)  # not an object: an item-level error with its index
    with pytest.raises(InvalidItems) as caught:
        submit(store, fanout, "a", JobRequest(action="addMeetingRegistrant"), iter(items))
    refused = caught.value
    # Each of the 4 has 3 bad fields (email, firstName missing, colour); plus item 4.
    assert (refused.count, refused.total, refused.truncated) == (5, 13, True)
    assert len(refused.errors) == fanout.settings.max_errors
    assert str(refused).startswith("5 invalid item(s); first: item 0: ")


@contextmanager
def validate_closed(*args: Any, **kwargs: Any) -> Iterator[Validated]:
    checked = validate(*args, **kwargs)
    try:
        yield checked
    finally:
        checked.close()


def test_unknown_action_is_refused_by_the_request_model() -> None:
    with pytest.raises(ValueError, match="did you mean addMeetingRegistrant"):
        JobRequest(action="addMeetingRegistrnt", items=[{}])


def test_connections_and_callbacks_are_checked(store: JobStore, fanout: Fanout) -> None:
    request = JobRequest(action="getUser", connection="beta", items=[{"userId": "me"}])
    with pytest.raises(InvalidInput) as caught:
        submit(store, fanout, "a", request, connections=["acme"])
    assert caught.value.errors[0]["field"] == "connection"
    hooked = JobRequest(action="getUser", items=[{"userId": "me"}], callback_url="https://x.io/h")
    with pytest.raises(InvalidInput) as caught:
        submit(store, fanout, "a", hooked)
    assert caught.value.errors[0]["field"] == "callback_url"


def test_submit_stores_and_sends_chunk_messages_a_worker_reads(
    store: JobStore, fanout: Fanout, redis_client: redis.Redis
) -> None:
    """25 items in chunks of 10: three chunks, a window of two on bulk's priority-6 list,
    each a protocol-2 Celery message of zoomq.jobs.run_chunk(job_id, indexes)."""
    view, created = submit(
        store, fanout, "a", JobRequest(action="addMeetingRegistrant", items=_items(25), batch=False)
    )
    assert created
    assert view.items == 25
    assert view.status is JobStatus.QUEUED
    raw = redis_client.lrange("bulk\x06\x166", 0, -1)
    assert len(raw) == 2
    assert store.waiting_chunks(view.job_id) == 1
    message = json.loads(raw[-1])
    assert message["headers"]["task"] == RUN_CHUNK_TASK
    assert message["properties"]["priority"] == 6
    assert message["properties"]["delivery_info"]["routing_key"] == "bulk"
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert args == [view.job_id, list(range(10))]
    assert kwargs == {}
    assert message["headers"]["id"] == f"job:{view.job_id}:0:0"


def test_batched_registrant_jobs_chunk_in_whole_batches(
    store: JobStore, redis_client: redis.Redis
) -> None:
    """50 rounds down to one batch of 30, and a batched chunk holds four times that: 120
    (a chunk of a few calls would cost more as a task than at Zoom)."""
    fan = Fanout(JobsSettings(chunk_size=50, window=10))
    _view, _ = submit(store, fan, "a", JobRequest(action="addMeetingRegistrant", items=_items(250)))
    sizes = []
    for raw in redis_client.lrange("bulk\x06\x166", 0, -1):
        args = json.loads(base64.b64decode(json.loads(raw)["body"]))[0]
        sizes.append(len(args[1]))
    assert sorted(sizes) == [10, 120, 120]
    single, _ = submit(
        store, fan, "a", JobRequest(action="addMeetingRegistrant", items=_items(70), batch=False)
    )
    assert single.batch is False


def test_resubmitting_with_the_key_returns_the_job_and_another_body_conflicts(
    store: JobStore, fanout: Fanout
) -> None:
    request = JobRequest(action="getUser", items=[{"userId": "me"}], idempotency_key="k")
    first, created = submit(store, fanout, "a", request)
    again, created_again = submit(store, fanout, "a", request)
    assert created
    assert not created_again
    assert again.job_id == first.job_id
    other = request.model_copy(update={"items": [{"userId": "you"}]})
    with pytest.raises(JobConflict):
        submit(store, fanout, "a", other)
    reordered = JobRequest(
        action="getUser", items=[{"userId": "me"}], idempotency_key="k", priority="normal"
    )
    assert submit(store, fanout, "a", reordered)[0].job_id == first.job_id


def test_retry_failed_sends_new_chunks_and_cancel_stops_the_job(
    store: JobStore, fanout: Fanout, redis_client: redis.Redis
) -> None:
    view, _ = submit(store, fanout, "a", JobRequest(action="getUser", items=[{"userId": "me"}] * 3))
    job = view.job_id
    redis_client.delete("bulk\x06\x166")
    store.start(job, [0, 1, 2])
    store.finish(job, [Outcome(i, "failed", output=None) for i in range(3)])  # type: ignore[arg-type]
    again = retry_failed(store, fanout, job, "a")
    assert again is not None
    assert again.counts["queued"] == 3
    assert redis_client.llen("bulk\x06\x166") == 1
    assert retry_failed(store, fanout, job, "b") is None
    stopped = cancel(store, fanout, job, "a")
    assert stopped is not None
    assert stopped.status is JobStatus.CANCELLED
    assert stopped.counts["cancelled"] == 3


def test_accepting_ten_thousand_items_is_fast(store: JobStore, fanout: Fanout) -> None:
    """A loose bound here (the benchmark measures it): 10,000 items in well under 3 s."""
    request = JobRequest(action="addMeetingRegistrant", items=_items(10_000))
    started = time.perf_counter()
    view, _ = submit(store, fanout, "a", request)
    assert time.perf_counter() - started < 3.0
    assert view.items == 10_000
