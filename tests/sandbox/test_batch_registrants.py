"""Batch registration (up to 30 per call, Heavy) with Zoom's prerequisites and limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.sandbox.conftest import FakeClock, account_token, api_client
from tests.sandbox.openapi import validate
from zoomq.sandbox import SandboxConfig, SandboxServer
from zoomq.sandbox.seed import BATCH_MEETING_TOPIC, BATCH_WEBINAR_TOPIC


def people(n: int, start: int = 0, domain: str = "batch.example.org") -> list[dict[str, str]]:
    return [
        {"email": f"person{i}@{domain}", "first_name": f"P{i}", "last_name": "Batch"}
        for i in range(start, start + n)
    ]


def listed_emails(client: httpx.Client, path: str, status: str = "approved") -> list[str]:
    """Every registrant's email, page by page (listMeetingRegistrants)."""
    emails: list[str] = []
    params: dict[str, Any] = {"page_size": 300, "status": status}
    while True:
        body = client.get(path, params=params).json()
        emails += [r["email"] for r in body["registrants"]]
        if not body.get("next_page_token"):
            return emails
        params["next_page_token"] = body["next_page_token"]


@pytest.fixture
def limited(clock: FakeClock, make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    """Rate limits on (Pro: Heavy 10/s), so the per-registrant cap applies; tokens last."""
    return make_sandbox(SandboxConfig(clock=clock, token_ttl=90 * 86400))


@pytest.fixture
def limited_client(limited: SandboxServer) -> Iterator[httpx.Client]:
    with api_client(limited) as http:
        yield http


def test_thirty_registrants_in_one_call(sandbox: SandboxServer, client: httpx.Client) -> None:
    """201 with each registrant (Zoom's schema); the listing then holds exactly them."""
    seeded = sandbox.state.seeded
    meeting_id = seeded.batch_meeting_id
    assert client.get(f"/meetings/{meeting_id}").json()["topic"] == BATCH_MEETING_TOPIC
    batch = people(30)
    response = client.post(
        f"/meetings/{meeting_id}/batch_registrants",
        json={"auto_approve": True, "registrants_confirmation_email": False, "registrants": batch},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    validate(body, "meetings.json", "POST", "/meetings/{meetingId}/batch_registrants", 201)
    returned = body["registrants"]
    assert [r["email"] for r in returned] == [p["email"] for p in batch]
    assert all(r["join_url"].startswith(sandbox.url) and r["registrant_id"] for r in returned)
    assert all(isinstance(r["participant_pin_code"], int) for r in returned)
    assert len({r["registrant_id"] for r in returned}) == 30
    path = f"/meetings/{meeting_id}/registrants"
    assert sorted(listed_emails(client, path)) == sorted(p["email"] for p in batch)
    control = httpx.get(f"{sandbox.url}/_sandbox/accounts/1/meetings/{meeting_id}/registrants")
    assert control.json()["total"] == 30
    assert {r["id"] for r in control.json()["registrants"]} == {
        r["registrant_id"] for r in returned
    }
    events = [name for name, _ in sandbox.state.events]
    assert events == ["meeting.registration_created"] * 30


def test_webinar_batch(sandbox: SandboxServer, client: httpx.Client) -> None:
    """The webinar endpoint answers Zoom's webinar schema (no PIN code)."""
    webinar_id = sandbox.state.seeded.batch_webinar_id
    assert client.get(f"/webinars/{webinar_id}").json()["topic"] == BATCH_WEBINAR_TOPIC
    response = client.post(
        f"/webinars/{webinar_id}/batch_registrants", json={"registrants": people(12)}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    validate(body, "meetings.json", "POST", "/webinars/{webinarId}/batch_registrants", 201)
    assert all("participant_pin_code" not in r for r in body["registrants"])
    listed = listed_emails(client, f"/webinars/{webinar_id}/registrants")
    assert sorted(listed) == sorted(p["email"] for p in people(12))
    assert [n for n, _ in sandbox.state.events] == ["webinar.registration_created"] * 12


def test_thirty_one_are_refused_whole(sandbox: SandboxServer, client: httpx.Client) -> None:
    """A 31st registrant is 400 code 300 naming ``registrants``; nothing is stored."""
    meeting_id = sandbox.state.seeded.batch_meeting_id
    response = client.post(
        f"/meetings/{meeting_id}/batch_registrants", json={"registrants": people(31)}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 300
    assert [e["field"] for e in body["errors"]] == ["registrants"]
    assert listed_emails(client, f"/meetings/{meeting_id}/registrants") == []
    assert sandbox.state.events == type(sandbox.state.events)(maxlen=1000)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["registrants"]),
        ({"registrants": []}, ["registrants"]),
        ({"registrants": "a@example.org"}, ["registrants"]),
        (
            {"registrants": [*people(4), {"email": "not-an-email", "first_name": "X"}]},
            ["registrants[4].email"],
        ),
        (
            {"registrants": [{"email": "a@example.org"}, {"first_name": "B"}, 7]},
            ["registrants[0].first_name", "registrants[1].email", "registrants[2]"],
        ),
        ({"registrants": people(2), "auto_approve": "yes"}, ["auto_approve"]),
    ],
)
def test_a_bad_registrant_refuses_the_whole_batch(
    sandbox: SandboxServer, client: httpx.Client, body: dict[str, Any], fields: list[str]
) -> None:
    """Any invalid item: 400 code 300 naming it by index; no registrant of it is stored."""
    meeting_id = sandbox.state.seeded.batch_meeting_id
    response = client.post(f"/meetings/{meeting_id}/batch_registrants", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == 300
    assert [e["field"] for e in response.json()["errors"]] == fields
    assert listed_emails(client, f"/meetings/{meeting_id}/registrants") == []


@pytest.mark.parametrize(
    ("kind", "target", "status", "code"),
    [
        ("meetings", "recurring_registration_meeting_id", 400, 303),
        ("meetings", "meeting_id", 404, 404),  # registration not enabled
        ("meetings", "basic_host_meeting_id", 400, 3161),
        ("webinars", "recurring_webinar_id", 400, 300),
        ("webinars", "no_registration_webinar_id", 400, 3000),
        ("webinars", "basic_host_webinar_id", 400, 200),
    ],
)
def test_prerequisites_are_refused_with_zooms_codes(
    sandbox: SandboxServer, client: httpx.Client, kind: str, target: str, status: int, code: int
) -> None:
    """Not type 2/5, no registration, or a Basic host: Zoom's status and code, nothing added."""
    event_id = getattr(sandbox.state.seeded, target)
    response = client.post(f"/{kind}/{event_id}/batch_registrants", json={"registrants": people(2)})
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    control = httpx.get(f"{sandbox.url}/_sandbox/accounts/1/{kind}/{event_id}/registrants")
    assert not any(r["email"].endswith("batch.example.org") for r in control.json()["registrants"])


def test_unknown_and_finished_meetings(
    limited: SandboxServer, limited_client: httpx.Client
) -> None:
    """An unknown id is 404 code 3001; a meeting that is over is 400 code 3038."""
    sandbox, client = limited, limited_client
    for kind in ("meetings", "webinars"):
        unknown = client.post(f"/{kind}/12345678901/batch_registrants", json={"registrants": []})
        assert (unknown.status_code, unknown.json()["code"]) == (404, 3001)
    clock = sandbox.config.clock
    assert isinstance(clock, FakeClock)
    clock.advance(30 * 86400)
    seeded = sandbox.state.seeded
    for path in (
        f"/meetings/{seeded.batch_meeting_id}/batch_registrants",
        f"/webinars/{seeded.batch_webinar_id}/batch_registrants",
    ):
        over = client.post(path, json={"registrants": people(1)})
        assert (over.status_code, over.json()["code"]) == (400, 3038)


def test_an_existing_email_returns_the_existing_registrant(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    """Registered before (any case) or twice in the batch: the same registrant, stored once."""
    meeting_id = sandbox.state.seeded.batch_meeting_id
    single = client.post(
        f"/meetings/{meeting_id}/registrants",
        json={"email": "Early@Example.org", "first_name": "Early"},
    ).json()
    batch = [
        {"email": "early@example.org", "first_name": "Again"},
        {"email": "twice@example.org", "first_name": "One"},
        {"email": "TWICE@example.org", "first_name": "Two"},
    ]
    response = client.post(f"/meetings/{meeting_id}/batch_registrants", json={"registrants": batch})
    assert response.status_code == 201
    returned = response.json()["registrants"]
    assert returned[0]["registrant_id"] == single["registrant_id"]
    assert returned[0]["email"] == "Early@Example.org"
    assert returned[1]["registrant_id"] == returned[2]["registrant_id"]
    listed = listed_emails(client, f"/meetings/{meeting_id}/registrants")
    assert sorted(listed) == ["Early@Example.org", "twice@example.org"]


def test_manual_approval_and_auto_approve(sandbox: SandboxServer, client: httpx.Client) -> None:
    """approval_type 1 makes batch registrants pending unless ``auto_approve`` is true."""
    meeting_id = sandbox.state.seeded.batch_meeting_id
    client.patch(f"/meetings/{meeting_id}", json={"settings": {"approval_type": 1}})
    path = f"/meetings/{meeting_id}/batch_registrants"
    assert client.post(path, json={"registrants": people(3)}).status_code == 201
    body = {"registrants": people(2, start=3), "auto_approve": True}
    assert client.post(path, json=body).status_code == 201
    registrants = f"/meetings/{meeting_id}/registrants"
    assert len(listed_emails(client, registrants, "pending")) == 3
    assert len(listed_emails(client, registrants, "approved")) == 2


def test_batch_calls_are_heavy_and_spend_the_heavy_daily_cap(
    clock: FakeClock, make_sandbox: Callable[..., SandboxServer]
) -> None:
    """Heavy per second (Pro: 10/s) and the plan's daily Heavy cap, scaled to 1/s and 3/day."""
    server = make_sandbox(SandboxConfig(clock=clock, rate_scale=0.0001))
    path = f"/meetings/{server.state.seeded.batch_meeting_id}/batch_registrants"
    statuses = []
    with api_client(server) as client:
        first = client.post(path, json={"registrants": people(30)})
        assert first.headers["x-ratelimit-category"] == "Heavy"
        assert first.headers["x-ratelimit-type"] == "Daily-limit"
        statuses.append(first.status_code)
        second = client.post(path, json={"registrants": people(30, start=30)})
        statuses.append(second.status_code)  # the same second: 1/s spent
        for n in range(3):
            clock.advance(1)
            statuses.append(client.post(path, json={"registrants": people(1, 100 + n)}).status_code)
        refused = client.post(path, json={"registrants": people(1, 200)})
    assert statuses == [201, 429, 201, 201, 429]
    assert second.json()["message"].startswith("You have reached the maximum per-second")
    assert "daily rate limit" in refused.json()["message"]
    assert refused.headers["retry-after"].endswith("T00:00:00Z")
    assert server.state.limiter.rejected == {"qps": 1, "daily": 2}
    assert sum(len(r) for r in server.state.store.meeting_registrants.values()) == 40 + 32


def test_one_email_three_times_a_day_per_endpoint(
    limited: SandboxServer, limited_client: httpx.Client, clock: FakeClock
) -> None:
    """A 4th addition of an email that day is 429 for the whole batch, and for single adds."""
    client = limited_client
    meeting_id = limited.state.seeded.batch_meeting_id
    path = f"/meetings/{meeting_id}/batch_registrants"
    repeat = {"email": "again@example.org", "first_name": "Again"}
    ids = set()
    for n in range(3):
        response = client.post(path, json={"registrants": [repeat, *people(1, start=n)]})
        assert response.status_code == 201
        ids.add(response.json()["registrants"][0]["registrant_id"])
    assert len(ids) == 1
    fourth = client.post(path, json={"registrants": [*people(1, start=10), repeat]})
    assert fourth.status_code == 429
    assert fourth.json()["code"] == 429
    assert "(again@example.org) this particular registrant" in fourth.json()["message"]
    assert fourth.headers["x-ratelimit-type"] == "Daily-limit"
    listed = listed_emails(client, f"/meetings/{meeting_id}/registrants")
    assert "person10@batch.example.org" not in listed  # refused whole
    assert len(listed) == 4

    single = f"/meetings/{meeting_id}/registrants"
    for _ in range(3):  # the single add counts on its own
        assert client.post(single, json=repeat).status_code == 201
    refused = client.post(single, json=repeat)
    assert refused.status_code == 429
    assert "for the registrant (again@example.org)" in refused.json()["message"]
    other = limited.state.seeded.registration_meeting_id  # another meeting: its own count
    assert client.post(f"/meetings/{other}/registrants", json=repeat).status_code == 201
    assert limited.state.limiter.rejected["registrant"] == 2

    clock.advance(86400)  # the next UTC day
    again = client.post(path, json={"registrants": [repeat]})
    assert again.status_code == 201
    assert again.json()["registrants"][0]["registrant_id"] in ids


def test_registrant_capacity_when_configured(
    clock: FakeClock, make_sandbox: Callable[..., SandboxServer]
) -> None:
    """With ``registrant_capacity`` a batch that would pass it is 404 code 3043, whole."""
    server = make_sandbox(SandboxConfig(clock=clock, rate_limits=False, registrant_capacity=40))
    path = f"/meetings/{server.state.seeded.batch_meeting_id}/batch_registrants"
    with api_client(server, account_token(server)) as client:
        assert client.post(path, json={"registrants": people(30)}).status_code == 201
        full = client.post(path, json={"registrants": people(11, start=30)})
        assert (full.status_code, full.json()["code"]) == (404, 3043)
        assert client.post(path, json={"registrants": people(10, start=30)}).status_code == 201
