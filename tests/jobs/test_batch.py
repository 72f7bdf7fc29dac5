"""Registrant jobs in batches of 30, over real HTTP to the sandbox: exact per-item results."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from tasks.policy import decide
from tests.sandbox_settings import sandbox_settings
from zoomq.client.http import ZoomClient
from zoomq.client.ratelimit import RedisRateLimiter, SlotBank
from zoomq.jobs.execute import ChunkExecutor, item_key
from zoomq.jobs.models import ItemState, JobRequest
from zoomq.jobs.submit import Fanout, submit
from zoomq.runtime.idempotency import IdempotencyStore
from zoomq.runtime.jobs import JobStore
from zoomq.runtime.keys import Keys
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import JobsSettings


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    """Rate limits off, unless parametrized True (then Zoom's per-registrant cap is on and
    the budgets are scaled far above what a test sends)."""
    limits = bool(getattr(request, "param", False))
    config = SandboxConfig(seed=6, rate_limits=limits, rate_scale=100.0)
    with SandboxServer(config) as server:
        yield server


@pytest.fixture
def parts(
    sandbox: SandboxServer, redis_url: str, redis_client: redis.Redis
) -> Iterator[tuple[JobStore, ChunkExecutor, Fanout, IdempotencyStore]]:
    settings = sandbox_settings(sandbox, redis_url, jobs=JobsSettings(chunk_size=60, concurrency=4))
    keys = Keys()
    store = JobStore(redis_client, keys=keys)
    steps = IdempotencyStore(redis_client, keys=keys)
    bank = SlotBank(RedisRateLimiter(redis_client))
    client = ZoomClient(settings, settings.connection(), redis_client=redis_client, limiter=bank)
    executor = ChunkExecutor(
        store,
        steps,
        lambda name: client,
        queue=settings.queue,
        jobs=settings.jobs,
        decide=decide,
    )
    yield store, executor, Fanout(settings.jobs), steps
    executor.close()
    client.close()


def _people(meeting: int, prefix: str, n: int) -> list[dict[str, Any]]:
    return [
        {
            "meetingId": meeting,
            "email": f"{prefix}{i}@example.com",
            "firstName": "B",
            "lastName": "T",
        }
        for i in range(n)
    ]


def _registrants(sandbox: SandboxServer, meeting: int) -> dict[str, dict[str, Any]]:
    with sandbox.state.lock:
        found = sandbox.state.store.registrants_of(meeting, webinar=False)
        return {r["email"]: r for r in found.values()}


def _batch_posts(sandbox: SandboxServer, meeting: int) -> int:
    return sandbox.state.count("POST", f"/v2/meetings/{meeting}/batch_registrants")


def _single_posts(sandbox: SandboxServer, meeting: int) -> int:
    return sandbox.state.count("POST", f"/v2/meetings/{meeting}/registrants")


def test_an_eligible_meeting_gets_batches_of_30_and_each_item_its_own_registrant(
    sandbox: SandboxServer, parts: tuple[JobStore, ChunkExecutor, Fanout, IdempotencyStore]
) -> None:
    store, executor, fanout, _ = parts
    meeting = sandbox.state.seeded.batch_meeting_id
    view, _ = submit(
        store,
        fanout,
        "a",
        JobRequest(action="addMeetingRegistrant", items=_people(meeting, "b", 100)),
    )
    told: list[int] = []
    for start in range(0, 100, 60):
        executor.run(
            view.job_id,
            list(range(start, min(100, start + 60))),
            owner="o",
            drained=lambda: told.append(_batch_posts(sandbox, meeting)),
        )
    # Each chunk told the next it may start once one of its batches had answered.
    assert len(told) == 2
    assert told[0] >= 1
    assert _batch_posts(sandbox, meeting) == 4  # 30 + 30 | 30 + 10
    assert _single_posts(sandbox, meeting) == 0
    assert sandbox.state.count("GET", f"/v2/meetings/{meeting}") == 1  # looked up once
    registered = _registrants(sandbox, meeting)
    results = list(store.iter_results(view.job_id))
    assert [r.state for r in results] == [ItemState.SUCCEEDED] * 100
    for r in results:
        person = registered[r.input["email"]]
        assert r.output is not None
        assert r.output["data"]["registrant_id"] == person["id"]
    # A redelivery of the first chunk repeats nothing.
    again = executor.run(view.job_id, list(range(60)), owner="o2")
    assert again.counts == {}
    assert _batch_posts(sandbox, meeting) == 4


@pytest.mark.parametrize(
    "which", ["basic_host_meeting_id", "recurring_registration_meeting_id", "meeting_id"]
)
def test_an_ineligible_meeting_gets_single_adds(
    which: str,
    sandbox: SandboxServer,
    parts: tuple[JobStore, ChunkExecutor, Fanout, IdempotencyStore],
) -> None:
    """A Basic host, a recurring meeting, no registration: one request per item, each
    failing or succeeding on its own as Zoom answers it."""
    store, executor, fanout, _ = parts
    meeting = getattr(sandbox.state.seeded, which)
    view, _ = submit(
        store,
        fanout,
        "a",
        JobRequest(action="addMeetingRegistrant", items=_people(meeting, "s", 5)),
    )
    report = executor.run(view.job_id, list(range(5)), owner="o")
    assert _batch_posts(sandbox, meeting) == 0
    assert _single_posts(sandbox, meeting) == 5
    assert sum(report.counts.values()) == 5
    answer = store.fields(view.job_id, f"batch:{meeting}")[0]
    assert answer is not None
    assert answer.startswith("no:")


@pytest.mark.parametrize("sandbox", [True], indirect=True)
def test_a_batch_refused_as_a_whole_is_split_and_each_item_sent_alone(
    sandbox: SandboxServer, parts: tuple[JobStore, ChunkExecutor, Fanout, IdempotencyStore]
) -> None:
    """One email already added three times today refuses its batch (429, per registrant):
    the batch's items go one by one, and every item ends with its own registrant."""
    store, executor, fanout, _ = parts
    meeting = sandbox.state.seeded.batch_meeting_id
    token = httpx.post(
        sandbox.token_url,
        params={"grant_type": "account_credentials", "account_id": "sandbox-account"},
        auth=("sandbox-client", "sandbox-secret"),
    ).json()["access_token"]
    for _ in range(3):
        answer = httpx.post(
            f"{sandbox.api_base_url}/meetings/{meeting}/batch_registrants",
            json={"registrants": [{"email": "capped@example.com", "first_name": "C"}]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 201
    items = _people(meeting, "c", 10)
    items[4]["email"] = "capped@example.com"
    view, _ = submit(store, fanout, "a", JobRequest(action="addMeetingRegistrant", items=items))
    before = _batch_posts(sandbox, meeting)
    told: list[int] = []
    executor.run(
        view.job_id,
        list(range(10)),
        owner="o",
        drained=lambda: told.append(_single_posts(sandbox, meeting)),
    )
    assert _batch_posts(sandbox, meeting) - before == 1
    assert _single_posts(sandbox, meeting) == 10
    # The refused batch's items went one by one first: the next chunk was told only
    # once the last of them had been taken, not when the batch answered.
    assert len(told) == 1
    assert told[0] >= 10 - executor.jobs.concurrency
    results = list(store.iter_results(view.job_id))
    registered = _registrants(sandbox, meeting)
    for r in results:
        assert r.state is ItemState.SUCCEEDED, r
        assert r.output is not None
        assert r.output["data"]["registrant_id"] == registered[r.input["email"]]["id"]


def test_items_an_interrupted_attempt_left_in_doubt_are_looked_up_not_sent_again(
    sandbox: SandboxServer, parts: tuple[JobStore, ChunkExecutor, Fanout, IdempotencyStore]
) -> None:
    """A worker died during a batch call that Zoom carried out: the next attempt finds those
    registrants by email in one listing and records them without registering again."""
    store, executor, fanout, steps = parts
    meeting = sandbox.state.seeded.batch_meeting_id
    view, _ = submit(
        store,
        fanout,
        "a",
        JobRequest(action="addMeetingRegistrant", items=_people(meeting, "d", 6)),
    )
    for index in range(6):  # the dead attempt began every item; its lease ran out
        steps.begin(item_key(view.job_id, index), "dead-owner", 0.001)
    client = executor.client(None)
    landed = client.request(
        "POST",
        f"/meetings/{meeting}/batch_registrants",
        json={"registrants": [{"email": f"d{i}@example.com", "first_name": "B"} for i in range(3)]},
    )
    assert landed.status_code == 201
    time.sleep(0.01)
    before = _batch_posts(sandbox, meeting)
    report = executor.run(view.job_id, list(range(6)), owner="o")
    assert report.counts["succeeded"] == 6
    assert _batch_posts(sandbox, meeting) - before == 1  # only d3..d5 were sent
    results = list(store.iter_results(view.job_id))
    assert [bool(r.output and r.output.get("recovered")) for r in results] == [True] * 3 + [
        False
    ] * 3
    assert len([e for e in _registrants(sandbox, meeting) if e.startswith("d")]) == 6
