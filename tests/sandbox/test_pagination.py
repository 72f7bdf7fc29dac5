"""Paging as Zoom does it: next_page_token chains, page_size clamps, tokens expire."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.sandbox.conftest import FakeClock, api_client
from zoomq.sandbox import SandboxConfig, SandboxServer


def test_users_pages_chain_to_the_end(
    clock: FakeClock, make_sandbox: Callable[..., SandboxServer]
) -> None:
    """650 users at page_size 300: three pages, totals on each, "" after the last."""
    server = make_sandbox(SandboxConfig(clock=clock, rate_limits=False, users=650))
    seen: list[str] = []
    pages = 0
    token = ""
    with api_client(server) as client:
        while True:
            params: dict[str, str | int] = {"page_size": 300}
            if token:
                params["next_page_token"] = token
            body = client.get("/users", params=params).json()
            pages += 1
            assert body["total_records"] == 650
            assert body["page_count"] == 3
            assert body["page_size"] == 300
            seen += [u["id"] for u in body["users"]]
            token = body["next_page_token"]
            if not token:
                break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 650
    assert seen[0] == server.state.seeded.owner_user_id


def test_page_size_is_clamped_to_the_maximum(sandbox: SandboxServer, client: httpx.Client) -> None:
    """Above the endpoint's maximum Zoom clamps page_size instead of refusing it."""
    meetings = client.get("/users/me/meetings", params={"page_size": 5000}).json()
    assert meetings["page_size"] == 300
    assert client.get("/users", params={"page_size": 9999}).json()["page_size"] == 2000
    channels = client.get("/chat/users/me/channels", params={"page_size": 5000}).json()
    assert channels["page_size"] == 1000
    contact = sandbox.state.seeded.contact_email
    messages = client.get(
        "/chat/users/me/messages", params={"to_contact": contact, "page_size": 500}
    ).json()
    assert messages["page_size"] == 50
    assert len(messages["messages"]) == 50


def test_default_page_sizes(sandbox: SandboxServer, client: httpx.Client) -> None:
    """Defaults: 30 for most lists, 10 for chat channels and messages."""
    assert client.get("/users/me/meetings").json()["page_size"] == 30
    assert len(client.get("/users/me/meetings").json()["meetings"]) == 30
    assert client.get("/chat/users/me/channels").json()["page_size"] == 10


def test_meeting_pages_cover_every_meeting(sandbox: SandboxServer, client: httpx.Client) -> None:
    """Walking listMeetings at page_size 7 yields each of the owner's meetings once."""
    ids: list[int] = []
    params: dict[str, str | int] = {"page_size": 7}
    while True:
        body = client.get("/users/me/meetings", params=params).json()
        ids += [m["id"] for m in body["meetings"]]
        if not body["next_page_token"]:
            break
        params["next_page_token"] = body["next_page_token"]
    assert len(ids) == len(set(ids)) == body["total_records"] == 40


def test_expired_page_token_is_400_300(sandbox: SandboxServer, client: httpx.Client) -> None:
    """A next_page_token used 16 minutes later is refused with code 300."""
    first = client.get("/users/me/meetings", params={"page_size": 10}).json()
    token = first["next_page_token"]
    assert client.get("/users/me/meetings", params={"next_page_token": token}).status_code == 200
    clock = sandbox.config.clock
    assert isinstance(clock, FakeClock)
    clock.advance(16 * 60)
    expired = client.get("/users/me/meetings", params={"next_page_token": token})
    assert expired.status_code == 400
    assert expired.json()["code"] == 300


def test_foreign_or_forged_page_token_is_400_300(client: httpx.Client) -> None:
    """A token from another listing, or garbage, is code 300 too."""
    users_token = client.get("/users", params={"page_size": 2}).json()["next_page_token"]
    foreign = client.get("/users/me/meetings", params={"next_page_token": users_token})
    assert (foreign.status_code, foreign.json()["code"]) == (400, 300)
    forged = client.get("/users", params={"next_page_token": "IAfJX3jsOLW7w3dokmFl84zOa0MAVGyMEB2"})
    assert (forged.status_code, forged.json()["code"]) == (400, 300)
