"""The sandbox hook: one background delivery per event, never raising."""

from __future__ import annotations

import httpx

from tests.webhooks.conftest import SECRET, LoopbackZoom
from zoomq.webhooks import make_sandbox_emitter


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
