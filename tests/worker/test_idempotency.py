"""Idempotency keys and the Redis guards, against a real redis-server."""

from __future__ import annotations

import threading

import pytest
import redis

from zoomq.errors import StepInProgress
from zoomq.runtime.idempotency import (
    IdempotencyStore,
    event_key,
    has_side_effects,
    run_key,
    run_once,
    step_key,
)


def test_event_key_prefers_the_receivers_dedup_key() -> None:
    """The receiver's dedup_key wins; otherwise equal events hash equal, whatever the order."""
    event = {"event": "meeting.started", "event_ts": 1, "payload": {"a": 1, "b": 2}}
    assert event_key(event, {"dedup_key": "evt:x:abc"}) == "evt:x:abc"
    reordered = {"payload": {"b": 2, "a": 1}, "event_ts": 1, "event": "meeting.started"}
    assert event_key(event) == event_key(reordered)
    assert event_key(event).startswith("evt:meeting.started:")
    assert event_key(event) != event_key({**event, "event_ts": 2})


def test_keys_compose() -> None:
    """Run and step keys extend the event key deterministically."""
    assert run_key("evt:a:1", "auto") == "evt:a:1:auto"
    assert step_key("evt:a:1:auto", 2, "getUser") == "evt:a:1:auto:2:getUser"


def test_side_effects_are_decided_by_method() -> None:
    """GETs repeat freely; writes and unknown rawRequests are guarded."""
    assert not has_side_effects("getMeeting", {})
    assert not has_side_effects("listUsers", {})
    assert has_side_effects("addMeetingRegistrant", {})
    assert has_side_effects("deleteUser", {})
    assert not has_side_effects("rawRequest", {"method": "get", "url": "/users/me"})
    assert has_side_effects("rawRequest", {"method": "POST", "url": "/users"})


def test_dispatch_claim_is_set_nx_and_survives_a_crash_before_sending(
    redis_client: redis.Redis,
) -> None:
    """Claimed-but-not-sent may be claimed again; once sent, never."""
    store = IdempotencyStore(redis_client)
    assert store.claim_dispatch("k")
    assert store.dispatch_state("k") == "pending"
    assert store.claim_dispatch("k")  # the first dispatcher died before sending
    store.mark_dispatched("k")
    assert not store.claim_dispatch("k")
    assert store.dispatch_state("k") == "sent"
    assert redis_client.ttl("zoomq:idem:dispatch:k") > 0


def test_begin_finish_and_done(redis_client: redis.Redis) -> None:
    """The lease is exclusive; finish records the result and frees the lease."""
    store = IdempotencyStore(redis_client)
    assert store.begin("s", "owner-1", 30).state == "run"
    assert store.begin("s", "owner-1", 30).state == "run"  # re-entrant for its owner
    busy = store.begin("s", "owner-2", 30)
    assert busy.state == "busy"
    assert 1 <= busy.retry_after <= 30
    store.finish("s", {"action": "x"}, {"data": {"id": 7}})
    done = store.begin("s", "owner-2", 30)
    assert done.state == "done"
    assert done.record is not None
    assert done.record.result == {"data": {"id": 7}}
    assert not redis_client.exists("zoomq:idem:lease:s")


def test_release_only_frees_its_own_lease(redis_client: redis.Redis) -> None:
    """A late failing attempt cannot free a lease another attempt holds."""
    store = IdempotencyStore(redis_client)
    store.begin("s", "owner-1", 30)
    store.release("s", "owner-2")
    assert store.begin("s", "owner-2", 30).state == "busy"
    store.release("s", "owner-1")
    assert store.begin("s", "owner-2", 30).state == "run"


def test_large_results_are_recorded_as_a_summary(redis_client: redis.Redis) -> None:
    """Only small results are kept whole."""
    store = IdempotencyStore(redis_client)
    record = store.finish("big", {"action": "x"}, {"data": "x" * 20_000})
    assert record.truncated
    found = store.done("big")
    assert found is not None
    assert found.result is None
    assert found.summary == {"action": "x"}


def test_run_once_calls_once_and_replays_the_record(redis_client: redis.Redis) -> None:
    """The second delivery of a done step gets the recorded result, not a second call."""
    store = IdempotencyStore(redis_client)
    calls: list[int] = []

    def call() -> dict[str, object]:
        calls.append(1)
        return {"data": {"id": 99, "registrant_id": "r1"}}

    first, replayed = run_once(store, "k", "a", 30, "addMeetingRegistrant", call)
    assert (first, replayed) == ({"data": {"id": 99, "registrant_id": "r1"}}, False)
    again, replayed = run_once(store, "k", "b", 30, "addMeetingRegistrant", call)
    assert replayed
    assert again["data"] == {"id": 99, "registrant_id": "r1"}
    assert again["summary"] == {"action": "addMeetingRegistrant", "id": 99, "registrant_id": "r1"}
    assert len(calls) == 1


def test_a_failed_call_frees_the_step_for_the_next_attempt(redis_client: redis.Redis) -> None:
    """Nothing is recorded on failure, and the lease is released."""
    store = IdempotencyStore(redis_client)

    def boom() -> dict[str, object]:
        raise RuntimeError("zoom said no")

    with pytest.raises(RuntimeError):
        run_once(store, "k", "a", 30, "x", boom)
    assert store.done("k") is None
    result, replayed = run_once(store, "k", "b", 30, "x", lambda: {"data": 1})
    assert (result, replayed) == ({"data": 1}, False)


def test_concurrent_deliveries_run_the_step_once(redis_client: redis.Redis) -> None:
    """Of two simultaneous deliveries one runs; the other is told the step is busy."""
    store = IdempotencyStore(redis_client)
    entered = threading.Event()
    release = threading.Event()
    calls: list[str] = []

    def slow() -> dict[str, object]:
        calls.append("slow")
        entered.set()
        release.wait(5)
        return {"data": {"id": 1}}

    worker = threading.Thread(target=run_once, args=(store, "k", "a", 30, "x", slow))
    worker.start()
    assert entered.wait(5)
    with pytest.raises(StepInProgress) as busy:
        run_once(store, "k", "b", 30, "x", slow)
    assert busy.value.retry_after > 0
    release.set()
    worker.join(5)
    _, replayed = run_once(store, "k", "b", 30, "x", slow)
    assert replayed
    assert calls == ["slow"]
