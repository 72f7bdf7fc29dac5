"""Each endpoint behind the 25 actions (and bulk jobs) answers with Zoom's schema."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.sandbox.conftest import FakeClock, api_client
from tests.sandbox.openapi import validate
from zoomq.sandbox import SandboxConfig, SandboxServer, SeededIds

# Zoom sends these although the 2023 spec's create-meeting schema leaves them out.
_CREATE_MEETING_EXTRA = frozenset({"uuid", "host_id", "status", "encrypted_password"})


@dataclass(frozen=True)
class Case:
    action: str
    method: str
    spec: str
    spec_path: str
    status: int
    path: Any  # (SeededIds) -> str
    params: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    allow_extra: frozenset[str] = frozenset()


def double_encoded(uuid: str) -> str:
    return quote(quote(uuid, safe=""), safe="")


CASES = [
    Case(
        "addMeetingRegistrant",
        "POST",
        "meetings.json",
        "/meetings/{meetingId}/registrants",
        201,
        lambda s: f"/meetings/{s.registration_meeting_id}/registrants",
        body={"email": "new.guest@example.org", "first_name": "New", "last_name": "Guest"},
    ),
    Case(
        "addWebinarRegistrant",
        "POST",
        "meetings.json",
        "/webinars/{webinarId}/registrants",
        201,
        lambda s: f"/webinars/{s.webinar_id}/registrants",
        body={"email": "new.viewer@example.org", "first_name": "New"},
    ),
    Case(
        "createMeeting",
        "POST",
        "meetings.json",
        "/users/{userId}/meetings",
        201,
        lambda s: "/users/me/meetings",
        body={
            "topic": "Sandbox test",
            "type": 8,
            "start_time": "2025-07-01T10:00:00Z",
            "duration": 30,
            "timezone": "UTC",
            "recurrence": {"type": 2, "repeat_interval": 1, "weekly_days": "3", "end_times": 3},
            "settings": {"host_video": True, "approval_type": 0},
        },
        allow_extra=_CREATE_MEETING_EXTRA,
    ),
    Case(
        "createUser",
        "POST",
        "users.json",
        "/users",
        201,
        lambda s: "/users",
        body={
            "action": "custCreate",
            "user_info": {"email": "created@example.com", "type": 1, "first_name": "Cree"},
        },
    ),
    Case(
        "deleteUser",
        "DELETE",
        "users.json",
        "/users/{userId}",
        204,
        lambda s: f"/users/{s.user_ids[-1]}",
        params={"action": "delete"},
    ),
    Case(
        "getAccountsPhoneRecordings",
        "GET",
        "phone.json",
        "/phone/recordings",
        200,
        lambda s: "/phone/recordings",
    ),
    Case(
        "getMeeting",
        "GET",
        "meetings.json",
        "/meetings/{meetingId}",
        200,
        lambda s: f"/meetings/{s.recurring_meeting_id}",
    ),
    Case(
        "getMeetingInvitation",
        "GET",
        "meetings.json",
        "/meetings/{meetingId}/invitation",
        200,
        lambda s: f"/meetings/{s.meeting_id}/invitation",
    ),
    Case(
        "getMeetingRecordings",
        "GET",
        "meetings.json",
        "/meetings/{meetingId}/recordings",
        200,
        lambda s: f"/meetings/{double_encoded(s.slash_meeting_uuid)}/recordings",
        params={"include_fields": "download_access_token", "ttl": "3600"},
    ),
    Case(
        "getPhoneRecordings",
        "GET",
        "phone.json",
        "/phone/users/{userId}/recordings",
        200,
        lambda s: "/phone/users/me/recordings",
    ),
    Case("getUser", "GET", "users.json", "/users/{userId}", 200, lambda s: "/users/me"),
    Case(
        "getUsersPhoneRecordings",
        "GET",
        "phone.json",
        "/phone/users/{userId}/recordings",
        200,
        lambda s: f"/phone/users/{s.phone_user_id}/recordings",
        params={"from": "2025-06-01", "to": "2025-06-15", "page_size": "10"},
    ),
    Case(
        "getWebinar",
        "GET",
        "meetings.json",
        "/webinars/{webinarId}",
        200,
        lambda s: f"/webinars/{s.recurring_webinar_id}",
    ),
    Case(
        "listMeetingRegistrants",
        "GET",
        "meetings.json",
        "/meetings/{meetingId}/registrants",
        200,
        lambda s: f"/meetings/{s.registration_meeting_id}/registrants",
        params={"page_size": "300"},
    ),
    Case(
        "listMeetings",
        "GET",
        "meetings.json",
        "/users/{userId}/meetings",
        200,
        lambda s: "/users/me/meetings",
        params={"page_size": "300"},
    ),
    Case(
        "listUsersChannels",
        "GET",
        "team-chat.json",
        "/chat/users/{userId}/channels",
        200,
        lambda s: "/chat/users/me/channels",
        params={"page_size": "1000"},
    ),
    Case(
        "listUsersChatMessages",
        "GET",
        "team-chat.json",
        "/chat/users/{userId}/messages",
        200,
        lambda s: "/chat/users/me/messages",
        params={"to_channel": "", "page_size": "50"},
    ),
    Case(
        "listUsersRecordings",
        "GET",
        "meetings.json",
        "/users/{userId}/recordings",
        200,
        lambda s: "/users/me/recordings",
        params={"from": "2025-05-20", "to": "2025-06-15", "page_size": "300"},
    ),
    Case(
        "listUsers",
        "GET",
        "users.json",
        "/users",
        200,
        lambda s: "/users",
        params={"page_size": "2000"},
    ),
    Case(
        "listWebinarParticipants",
        "GET",
        "meetings.json",
        "/past_webinars/{webinarId}/participants",
        200,
        lambda s: f"/past_webinars/{double_encoded(s.past_webinar_uuid)}/participants",
        params={"page_size": "300"},
    ),
    Case(
        "listWebinarRegistrants",
        "GET",
        "meetings.json",
        "/webinars/{webinarId}/registrants",
        200,
        lambda s: f"/webinars/{s.webinar_id}/registrants",
    ),
    Case(
        "listWebinars",
        "GET",
        "meetings.json",
        "/users/{userId}/webinars",
        200,
        lambda s: "/users/me/webinars",
    ),
    Case(
        "rawRequest",
        "GET",
        "users.json",
        "/users/{userId}",
        200,
        lambda s: f"/users/{s.owner_email}",
    ),
    Case(
        "updateMeeting",
        "PATCH",
        "meetings.json",
        "/meetings/{meetingId}",
        204,
        lambda s: f"/meetings/{s.meeting_id}",
        body={"topic": "Renamed", "settings": {"mute_upon_entry": True}},
    ),
    Case(
        "updateUser",
        "PATCH",
        "users.json",
        "/users/{userId}",
        204,
        lambda s: f"/users/{s.contact_user_id}",
        body={"dept": "Research", "type": 2},
    ),
]


#: Endpoints beyond the 25 actions that bulk jobs use.
BULK_CASES = [
    Case(
        "addBatchRegistrants",
        "POST",
        "meetings.json",
        "/meetings/{meetingId}/batch_registrants",
        201,
        lambda s: f"/meetings/{s.batch_meeting_id}/batch_registrants",
        body={
            "auto_approve": True,
            "registrants_confirmation_email": True,
            "registrants": [
                {"email": f"bulk{i}@example.org", "first_name": "Bulk", "last_name": str(i)}
                for i in range(30)
            ],
        },
    ),
    Case(
        "addBatchWebinarRegistrants",
        "POST",
        "meetings.json",
        "/webinars/{webinarId}/batch_registrants",
        201,
        lambda s: f"/webinars/{s.batch_webinar_id}/batch_registrants",
        body={"registrants": [{"email": "bulk@example.org", "first_name": "Bulk"}]},
    ),
]


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[SandboxServer, httpx.Client]]:
    """One sandbox for the module: the cases touch different objects."""
    config = SandboxConfig(clock=FakeClock(), rate_limits=False)
    with SandboxServer(config) as server, api_client(server) as http:
        yield server, http


def test_there_is_one_case_per_action() -> None:
    """All 25 actions are covered, each once."""
    assert len({c.action for c in CASES}) == len(CASES) == 25


@pytest.mark.parametrize("case", CASES + BULK_CASES, ids=[c.action for c in CASES + BULK_CASES])
def test_endpoint_answers_with_zoom_schema(
    case: Case, shared: tuple[SandboxServer, httpx.Client]
) -> None:
    """The request succeeds with Zoom's status, and the body fits Zoom's response schema."""
    sandbox, client = shared
    seeded: SeededIds = sandbox.state.seeded
    params = dict(case.params)
    if params.get("to_channel") == "":
        params["to_channel"] = seeded.channel_id
    response = client.request(case.method, case.path(seeded), params=params, json=case.body)
    assert response.status_code == case.status, response.text
    assert response.headers["x-zm-trackingid"]
    if case.status == 204:
        assert response.content == b""
        return
    body = response.json()
    validate(
        body, case.spec, case.method, case.spec_path, case.status, allow_extra=case.allow_extra
    )
    lists = [v for v in body.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
    if case.method == "GET" and "page_size" in body:
        assert lists, f"{case.action}: the seeded listing is empty"
