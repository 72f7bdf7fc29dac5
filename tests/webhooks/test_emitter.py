"""The sandbox hook: one background delivery per event, never raising."""

from __future__ import annotations

import httpx

from tests.webhooks.conftest import SECRET, LoopbackZoom
from zoomq.sandbox.webhooks import make_sandbox_emitter


def test_emitter_delivers_the_object_once(loopback: LoopbackZoom, http: httpx.Client) -> None:
    """The object becomes payload.object of a signed event the endpoint verifies."""
    url, endpoint = loopback.endpoint(200)
    emit = make_sandbox_emitter(url, SECRET, http, account_id="sandbox-account")
    obj = {"id": 85746065432, "uuid": "u==", "topic": "Zoë 東京", "type": 2}
    emit("meeting.created", obj)
    assert emit.wait(timeout=5)
    [delivery] = endpoint.deliveries
    assert delivery.failure is None
    assert delivery.event is not None
    assert delivery.event.object == obj
    assert delivery.event.account_id == "sandbox-account"
    assert emit.results[-1].delivered


def test_emitter_never_retries_and_never_raises(http: httpx.Client, refused_url: str) -> None:
    """A dead receiver costs one failed attempt, logged, and nothing else."""
    emit = make_sandbox_emitter(refused_url, SECRET, http)
    emit("user.created", {"id": "u1", "email": "a@example.com"})
    assert emit.wait(timeout=5)
    [result] = emit.results
    assert not result.delivered
    assert len(result.attempts) == 1


def test_emitter_swallows_a_bad_event_name(http: httpx.Client, refused_url: str) -> None:
    """An unknown event name is logged, not raised into the sandbox request."""
    emit = make_sandbox_emitter(refused_url, SECRET, http)
    emit("meeting.exploded", {"id": 1})
    assert emit.wait(timeout=1)
    assert list(emit.results) == []


def test_sandbox_emits_signed_event_when_a_registrant_is_added(
    loopback: LoopbackZoom, http: httpx.Client
) -> None:
    """Adding a registrant through the sandbox API sends meeting.registration_created."""
    from tests.client.procs import settings_for
    from zoomq.actions import run_action
    from zoomq.client import ZoomClient
    from zoomq.sandbox.config import SandboxConfig
    from zoomq.sandbox.server import SandboxServer

    url, endpoint = loopback.endpoint(200)
    emit = make_sandbox_emitter(url, SECRET, http, account_id="sandbox-account")
    with SandboxServer(SandboxConfig(on_event=emit, rate_limits=False)) as sandbox:
        settings = settings_for(sandbox.api_base_url, sandbox.token_url)
        meeting = sandbox.state.seeded.registration_meeting_id
        with ZoomClient(settings, settings.connection()) as client:
            run_action(
                client,
                "addMeetingRegistrant",
                {"meetingId": meeting, "email": "new@example.com", "firstName": "New"},
            )
        assert emit.wait(timeout=5)
    [delivery] = [d for d in endpoint.deliveries if d.event is not None]
    assert delivery.failure is None
    assert delivery.event is not None
    assert delivery.event.event == "meeting.registration_created"
    assert delivery.event.object["id"] == meeting
    assert delivery.event.object["registrant"]["email"] == "new@example.com"
