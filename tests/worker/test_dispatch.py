"""Dispatching events to automations and running steps once, with real Redis and sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from zoomq.automations import (
    AutomationContext,
    Automations,
    automation,
    dispatch_event,
    parse_rules,
    run_automation,
)
from zoomq.client.http import ZoomClient
from zoomq.errors import DispatchIncomplete
from zoomq.runtime.idempotency import IdempotencyStore
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import Settings

RULES = """
[[rule]]
name = "register"
event = "meeting.registration_created"
action = "addMeetingRegistrant"
[rule.input]
meetingId = "{{ payload.object.id }}"
email = "copy-{{ payload.object.registrant.email }}"
firstName = "{{ payload.object.registrant.first_name }}"

[[rule]]
name = "look"
event = "meeting.*"
action = "getMeeting"
input = { meetingId = "{{ payload.object.id }}" }

[[rule]]
name = "never"
event = "user.created"
action = "getUser"
input = { userId = "me" }
"""


def registration(meeting_id: int, email: str = "ada@example.com") -> dict[str, Any]:
    return {
        "event": "meeting.registration_created",
        "event_ts": 1_700_000_000_000,
        "payload": {
            "account_id": "sandbox-account",
            "object": {
                "id": meeting_id,
                "registrant": {"email": email, "first_name": "Ada"},
            },
        },
    }


@pytest.fixture
def client(settings: Settings, redis_client: redis.Redis) -> Iterator[ZoomClient]:
    with ZoomClient(settings, settings.connection(), redis_client=redis_client) as zc:
        yield zc


def test_each_matching_automation_is_enqueued_once(redis_client: redis.Redis) -> None:
    """A redelivered event enqueues nothing more; runs keep the event's correlation id."""
    autos = Automations(r.as_automation() for r in parse_rules(RULES))
    store = IdempotencyStore(redis_client)
    sent: list[tuple[str, str, dict[str, Any]]] = []
    meta = {"dedup_key": "evt:meeting.registration_created:abc", "correlation_id": "corr-1"}

    def enqueue(name: str, key: str, child: dict[str, Any]) -> None:
        sent.append((name, key, child))

    report = dispatch_event(registration(1), meta, autos, store, enqueue)
    assert report.sent == ["register", "look"]
    assert [key for _, key, _ in sent] == [
        "evt:meeting.registration_created:abc:register",
        "evt:meeting.registration_created:abc:look",
    ]
    assert all(child["correlation_id"] == "corr-1" for _, _, child in sent)
    again = dispatch_event(registration(1), meta, autos, store, enqueue)
    assert (again.sent, again.skipped) == ([], ["register", "look"])
    assert len(sent) == 2


def test_a_failing_enqueue_does_not_stop_the_others(redis_client: redis.Redis) -> None:
    """The others are sent; the event is retried and then sends only the missing one."""
    autos = Automations(r.as_automation() for r in parse_rules(RULES))
    store = IdempotencyStore(redis_client)
    sent: list[str] = []
    broken = {"register"}

    def enqueue(name: str, key: str, child: dict[str, Any]) -> None:
        if name in broken:
            raise ConnectionError("broker hiccup")
        sent.append(name)

    with pytest.raises(DispatchIncomplete) as failed:
        dispatch_event(registration(1), {"dedup_key": "e"}, autos, store, enqueue)
    assert failed.value.sent == ["look"]
    assert list(failed.value.failed) == ["register"]
    broken.clear()
    report = dispatch_event(registration(1), {"dedup_key": "e"}, autos, store, enqueue)
    assert (report.sent, report.skipped) == (["register"], ["look"])
    assert sent == ["look", "register"]


def test_a_rule_runs_its_action_once_against_the_sandbox(
    sandbox: SandboxServer, client: ZoomClient, redis_client: redis.Redis
) -> None:
    """Running the same run twice POSTs once; the second run gets the recorded result."""
    meeting_id = sandbox.state.seeded.registration_meeting_id
    (rule, *_) = parse_rules(RULES)
    auto = rule.as_automation()
    store = IdempotencyStore(redis_client)
    path = f"/v2/meetings/{meeting_id}/registrants"

    def run(owner: str) -> AutomationContext:
        ctx = AutomationContext(
            automation=auto.name,
            run_key="evt:x:1:register",
            meta={"correlation_id": "c"},
            clients=lambda _: client,
            store=store,
            owner=owner,
        )
        run_automation(auto, registration(meeting_id), ctx)
        return ctx

    first = run("attempt-1")
    second = run("attempt-2")
    assert [s.replayed for s in first.steps] == [False]
    assert [s.replayed for s in second.steps] == [True]
    assert sandbox.state.count("POST", path) == 1
    registrants = sandbox.state.store.meeting_registrants[meeting_id]
    assert [r["email"] for r in registrants.values()].count("copy-ada@example.com") == 1


def test_python_automation_steps_are_each_guarded(
    sandbox: SandboxServer, client: ZoomClient, redis_client: redis.Redis
) -> None:
    """A rerun after a later step failed repeats no earlier write."""
    owner_id = sandbox.state.seeded.owner_user_id
    fail_second = {"on": True}

    @automation("user.created", name="welcome")
    def welcome(event: dict[str, Any], ctx: AutomationContext) -> None:
        ctx.run_action("createMeeting", {"userId": owner_id, "topic": "Welcome"})
        if fail_second["on"]:
            raise ConnectionError("worker lost the network")
        ctx.run_action("getUser", {"userId": owner_id})

    auto = welcome.__zoomq_automation__  # type: ignore[attr-defined]
    store = IdempotencyStore(redis_client)

    def run() -> AutomationContext:
        ctx = AutomationContext(
            automation="welcome",
            run_key="evt:user.created:1:welcome",
            meta={},
            clients=lambda _: client,
            store=store,
            owner="o",
        )
        run_automation(auto, {"event": "user.created", "payload": {}}, ctx)
        return ctx

    meetings_before = len(sandbox.state.store.meetings)
    with pytest.raises(ConnectionError):
        run()
    fail_second["on"] = False
    ctx = run()
    assert [(s.action, s.replayed) for s in ctx.steps] == [
        ("createMeeting", True),
        ("getUser", False),
    ]
    assert len(sandbox.state.store.meetings) == meetings_before + 1
