"""``run_step``: the one side-effect guard both the action task and automations use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from zoomq.client.http import ZoomClient
from zoomq.runtime import steps
from zoomq.runtime.idempotency import IdempotencyStore
from zoomq.runtime.steps import attempt_owner, run_step
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import Settings


@pytest.fixture
def client(settings: Settings, redis_client: redis.Redis) -> Iterator[ZoomClient]:
    with ZoomClient(settings, settings.connection(), redis_client=redis_client) as zc:
        yield zc


def test_a_write_runs_once_per_key(
    sandbox: SandboxServer, client: ZoomClient, redis_client: redis.Redis
) -> None:
    """The second run of the same key replays the record; Zoom sees one POST."""
    meeting_id = sandbox.state.seeded.registration_meeting_id
    path = f"/v2/meetings/{meeting_id}/registrants"
    data = {"meetingId": meeting_id, "email": "once@example.com", "firstName": "Una"}
    store = IdempotencyStore(redis_client)
    first, replayed = run_step(
        lambda: client, "addMeetingRegistrant", data, store=store, key="k1", owner="a", lease=30
    )
    assert replayed is False
    again, replayed = run_step(
        lambda: client, "addMeetingRegistrant", data, store=store, key="k1", owner="b", lease=30
    )
    assert replayed is True
    assert again["data"]["registrant_id"] == first["data"]["registrant_id"]
    assert sandbox.state.count("POST", path) == 1


def test_a_read_or_a_run_without_store_is_not_guarded(
    sandbox: SandboxServer, client: ZoomClient, redis_client: redis.Redis
) -> None:
    """GETs repeat freely and leave no record; without a store even a write just runs."""
    store = IdempotencyStore(redis_client)
    for _ in range(2):
        _, replayed = run_step(
            lambda: client, "getUser", {"userId": "me"}, store=store, key="r", owner="a", lease=30
        )
        assert replayed is False
    assert store.done("r") is None
    assert sandbox.state.count("GET", "/v2/users/me") == 2
    meeting_id = sandbox.state.seeded.registration_meeting_id
    data = {"meetingId": meeting_id, "email": "twice@example.com", "firstName": "Tu"}
    for _ in range(2):
        _, replayed = run_step(
            lambda: client, "addMeetingRegistrant", data, store=None, key="w", owner="a", lease=30
        )
        assert replayed is False
    assert sandbox.state.count("POST", f"/v2/meetings/{meeting_id}/registrants") == 2


def test_each_attempt_owns_its_leases() -> None:
    """Two attempts of the same delivery never share an owner."""
    assert attempt_owner("t", 1).startswith("t:1:")
    assert attempt_owner("t", None).startswith("t:0:")
    assert attempt_owner("t", 1) != attempt_owner("t", 1)


def test_exports() -> None:
    """The module's __all__ names exactly its public functions."""
    assert set(steps.__all__) == {"attempt_owner", "run_step"}
