"""An interrupted registrant step looks in Zoom before adding again (real Redis, sandbox)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tasks.actions import run_action_task
from tasks.runtime import get_runtime
from worker.app import create_celery
from zoomq.actions import run_action
from zoomq.actions.recover import find_earlier
from zoomq.automations import AutomationContext
from zoomq.client.http import ZoomClient
from zoomq.errors import NotFound, RateLimited, ServerError, TransportError
from zoomq.runtime.idempotency import IdempotencyStore, Looked, run_once
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import Settings

STEP = "evt:x:1:register:0:addMeetingRegistrant"


@pytest.fixture
def client(settings: Settings, redis_client: redis.Redis) -> Iterator[ZoomClient]:
    with ZoomClient(settings, settings.connection(), redis_client=redis_client) as zc:
        yield zc


def interrupted(store: IdempotencyStore, key: str) -> None:
    """What a worker killed mid-call leaves: the ``began`` mark, and a lease that expired."""
    assert store.begin(key, "attempt-1:killed", 300).state == "run"
    store.redis.delete(f"{store.prefix}:lease:{key}")


def context(store: IdempotencyStore, client: ZoomClient, owner: str) -> AutomationContext:
    return AutomationContext(
        automation="register",
        run_key="evt:x:1:register",
        meta={},
        clients=lambda _: client,
        store=store,
        owner=owner,
    )


def test_the_guard_tells_a_resumed_attempt_from_a_first_one(redis_client: redis.Redis) -> None:
    """``began`` outlives a lost lease; finish, and a failure Zoom refused, clear it."""
    store = IdempotencyStore(redis_client)
    interrupted(store, "k")
    resumed = store.begin("k", "attempt-2", 30)
    assert (resumed.state, resumed.earlier) == ("resume", "attempt-1:killed")
    store.finish("k", {"action": "x"}, {"data": 1})
    assert not redis_client.exists("zoomq:idem:began:k")

    assert store.begin("j", "a", 30).state == "run"
    store.release("j", "a", changed_nothing=False)  # e.g. a read timeout after sending
    assert store.begin("j", "b", 30).state == "resume"
    store.release("j", "b", changed_nothing=True)
    assert store.begin("j", "c", 30).state == "run"


def test_only_failures_that_may_have_reached_zoom_leave_the_step_in_doubt(
    redis_client: redis.Redis,
) -> None:
    """Zoom's answers (404, even 500) are taken at their word; a lost reply leaves doubt."""
    store = IdempotencyStore(redis_client)
    looked: list[str] = []

    def recover(_: Looked) -> dict[str, Any] | None:
        looked.append("look")
        return None

    def refused() -> dict[str, Any]:
        raise NotFound("Meeting does not exist", status=404, code=3001)

    def lost() -> dict[str, Any]:
        raise TransportError("read timeout")

    def failed() -> dict[str, Any]:
        raise ServerError("Internal Server Error.", status=500, code=500)

    with pytest.raises(NotFound):
        run_once(store, "k", "a", 30, "addMeetingRegistrant", refused, recover)
    with pytest.raises(ServerError):
        run_once(store, "k", "a2", 30, "addMeetingRegistrant", failed, recover)
    with pytest.raises(TransportError):
        run_once(store, "k", "b", 30, "addMeetingRegistrant", lost, recover)
    assert looked == []
    run_once(store, "k", "c", 30, "addMeetingRegistrant", lambda: {"data": {}}, recover)
    assert looked == ["look"]


def test_a_retry_after_zoom_added_the_registrant_finds_it_instead_of_adding_again(
    sandbox: SandboxServer, client: ZoomClient, redis_client: redis.Redis
) -> None:
    """The killed attempt's registrant is looked up by email and becomes the step's result."""
    meeting_id = sandbox.state.seeded.registration_meeting_id
    path = f"/v2/meetings/{meeting_id}/registrants"
    data = {"meetingId": meeting_id, "email": "Kill.Nine@example.com", "firstName": "Kay"}
    store = IdempotencyStore(redis_client)
    interrupted(store, STEP)
    earlier = run_action(client, "addMeetingRegistrant", data)["data"]  # Zoom got it

    ctx = context(store, client, "attempt-2")
    result = ctx.run_action("addMeetingRegistrant", data)

    assert result["recovered"] is True
    assert result["data"]["registrant_id"] == earlier["registrant_id"]
    assert result["data"]["join_url"] == earlier["join_url"]
    assert result["data"]["id"] == meeting_id
    assert [s.replayed for s in ctx.steps] == [True]
    assert sandbox.state.count("POST", path) == 1
    assert sandbox.state.count("GET", path) == 1  # approved, one page: found at once
    registrants = sandbox.state.store.meeting_registrants[meeting_id].values()
    assert [r["email"].lower() for r in registrants].count("kill.nine@example.com") == 1
    record = store.done(STEP)
    assert record is not None
    assert record.summary["registrant_id"] == earlier["registrant_id"]
    again = context(store, client, "attempt-3").run_action("addMeetingRegistrant", data)
    assert again["replayed"] is True
    assert sandbox.state.count("POST", path) == 1


def test_a_first_attempt_does_not_pay_for_a_lookup(
    sandbox: SandboxServer, client: ZoomClient, redis_client: redis.Redis
) -> None:
    """No earlier attempt, no listing: one POST and nothing else."""
    meeting_id = sandbox.state.seeded.registration_meeting_id
    path = f"/v2/meetings/{meeting_id}/registrants"
    store = IdempotencyStore(redis_client)
    data = {"meetingId": meeting_id, "email": "first@example.com", "firstName": "Fay"}
    result = context(store, client, "attempt-1").run_action("addMeetingRegistrant", data)
    assert "recovered" not in result
    assert sandbox.state.count("POST", path) == 1
    assert sandbox.state.count("GET", path) == 0


def test_an_interrupted_attempt_that_never_reached_zoom_adds_the_registrant(
    sandbox: SandboxServer, client: ZoomClient, redis_client: redis.Redis
) -> None:
    """Nothing found under any status: the step adds the registrant after all."""
    meeting_id = sandbox.state.seeded.registration_meeting_id
    path = f"/v2/meetings/{meeting_id}/registrants"
    store = IdempotencyStore(redis_client)
    interrupted(store, STEP)
    data = {"meetingId": meeting_id, "email": "never@example.com", "firstName": "Nev"}
    result = context(store, client, "attempt-2").run_action("addMeetingRegistrant", data)
    assert "recovered" not in result
    assert result["data"]["registrant_id"]
    assert sandbox.state.count("GET", path) == 2  # approved, then pending
    assert sandbox.state.count("POST", path) == 1


def test_the_action_task_recovers_a_pending_webinar_registrant(
    sandbox: SandboxServer, settings: Settings
) -> None:
    """The task path shares the look-up; a manually approved webinar's registrant is pending."""
    webinar_id = sandbox.state.seeded.webinar_id
    sandbox.state.store.webinar(str(webinar_id))["settings"]["approval_type"] = 1
    path = f"/v2/webinars/{webinar_id}/registrants"
    data = {"webinarId": webinar_id, "email": "pending@example.com", "firstName": "Pen"}
    app = create_celery(settings)
    task = app.tasks["zoomq.actions.addWebinarRegistrant"]
    runtime = get_runtime(app)
    try:
        interrupted(runtime.store, "job:1:item:7")
        earlier = run_action(runtime.client(None), "addWebinarRegistrant", data)["data"]
        task.push_request(id="t-7", retries=1, called_directly=False)
        try:
            done = run_action_task(
                task, "addWebinarRegistrant", data, None, {"idempotency_key": "job:1:item:7"}
            )
        finally:
            task.pop_request()
    finally:
        runtime.close()
        app.close()
    assert done["status"] == "done"
    assert done["replayed"] is True
    assert done["zoom"]["registrant_id"] == earlier["registrant_id"]
    assert sandbox.state.count("POST", path) == 1
    registrants = sandbox.state.store.webinar_registrants[webinar_id].values()
    found = [r for r in registrants if r["email"] == "pending@example.com"]
    assert [r["status"] for r in found] == ["pending"]


class Listings:
    """Zoom's registrant listings, empty; the first ``pending`` listing is rate-limited."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def iter_pages(self, path: str, *, params: dict[str, str], **_: Any) -> Iterator[Any]:
        self.asked.append(params["status"])
        if self.asked == ["approved", "pending"]:
            raise RateLimited("medium budget busy", retry_after=1.0)
        yield {"registrants": [{"id": "r-1", "email": "other@example.com"}]}


def test_a_lookup_stopped_halfway_resumes_where_it_stopped(redis_client: redis.Redis) -> None:
    """Rate-limited on ``pending``, the retry does not list ``approved`` again, then adds."""
    store = IdempotencyStore(redis_client)
    zoom: Any = Listings()
    data = {"meetingId": 1, "email": "late@example.com", "firstName": "L"}
    sent: list[int] = []

    def call() -> dict[str, Any]:
        sent.append(1)
        return {"data": {"registrant_id": "r-2"}}

    def recover(looked: Looked) -> dict[str, Any] | None:
        return find_earlier(zoom, "addMeetingRegistrant", data, looked)

    interrupted(store, "k")
    with pytest.raises(RateLimited):
        run_once(store, "k", "b", 30, "addMeetingRegistrant", call, recover)
    assert sent == []
    result, replayed = run_once(store, "k", "c", 30, "addMeetingRegistrant", call, recover)
    assert zoom.asked == ["approved", "pending", "pending"]
    assert (result, replayed, sent) == ({"data": {"registrant_id": "r-2"}}, False, [1])
    assert not redis_client.exists("zoomq:idem:looked:k")
