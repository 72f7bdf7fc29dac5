"""Stateful resources: changes show in later reads; Zoom's error codes and bodies."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from tests.sandbox.conftest import FakeClock
from zoomq.sandbox import OWNER_EMAIL, SandboxConfig, SandboxServer, create_sandbox_app


def test_created_meeting_reads_back(sandbox: SandboxServer, client: httpx.Client) -> None:
    """A created meeting is returned by getMeeting and listed under its host."""
    created = client.post(
        "/users/me/meetings",
        json={"topic": "Launch", "type": 2, "start_time": "2025-06-20T15:00:00Z", "duration": 45},
    )
    assert created.status_code == 201
    meeting = created.json()
    assert meeting["topic"] == "Launch"
    assert meeting["start_time"] == "2025-06-20T15:00:00Z"
    assert meeting["host_id"] == sandbox.state.seeded.owner_user_id

    read = client.get(f"/meetings/{meeting['id']}").json()
    assert read["join_url"] == meeting["join_url"]
    assert read["duration"] == 45

    listed = client.get("/users/me/meetings", params={"page_size": 300}).json()
    assert meeting["id"] in {m["id"] for m in listed["meetings"]}


def test_updated_meeting_reads_back(sandbox: SandboxServer, client: httpx.Client) -> None:
    """PATCH answers 204 with no body and getMeeting then shows the change."""
    meeting_id = sandbox.state.seeded.meeting_id
    response = client.patch(
        f"/meetings/{meeting_id}",
        json={"topic": "Renamed", "duration": 90, "settings": {"waiting_room": False}},
    )
    assert response.status_code == 204
    assert response.content == b""
    read = client.get(f"/meetings/{meeting_id}").json()
    assert (read["topic"], read["duration"], read["settings"]["waiting_room"]) == (
        "Renamed",
        90,
        False,
    )


def test_deleted_meeting_is_gone(sandbox: SandboxServer, client: httpx.Client) -> None:
    """After DELETE the meeting is 404 code 3001 with Zoom's message."""
    meeting_id = sandbox.state.seeded.meeting_id
    assert client.delete(f"/meetings/{meeting_id}").status_code == 204
    response = client.get(f"/meetings/{meeting_id}")
    assert response.status_code == 404
    assert response.json() == {"code": 3001, "message": f"Meeting does not exist: {meeting_id}."}


def test_recurring_meeting_has_occurrences(sandbox: SandboxServer, client: httpx.Client) -> None:
    """The seeded recurring meeting is type 8 with weekly occurrences, each readable."""
    meeting = client.get(f"/meetings/{sandbox.state.seeded.recurring_meeting_id}").json()
    assert meeting["type"] == 8
    assert meeting["recurrence"]["type"] == 2
    occurrences = meeting["occurrences"]
    assert len(occurrences) == 6
    second = occurrences[1]
    one = client.get(
        f"/meetings/{meeting['id']}", params={"occurrence_id": second["occurrence_id"]}
    )
    assert one.json()["start_time"] == second["start_time"]


def test_user_lifecycle(sandbox: SandboxServer, client: httpx.Client) -> None:
    """Create (201), read by id and email, update (204), delete (204) then 404 code 1001."""
    body = {
        "action": "autoCreate",
        "user_info": {"email": "New.Person@example.com", "type": 1, "first_name": "New"},
    }
    created = client.post("/users", json=body)
    assert created.status_code == 201
    user = created.json()
    assert set(user) == {"id", "first_name", "last_name", "email", "type"}

    assert client.get(f"/users/{user['id']}").json()["status"] == "active"
    assert client.get("/users/new.person@example.com").json()["id"] == user["id"]

    assert client.patch(f"/users/{user['id']}", json={"last_name": "Person"}).status_code == 204
    assert client.get(f"/users/{user['id']}").json()["last_name"] == "Person"

    assert client.delete(f"/users/{user['id']}").status_code == 204
    gone = client.get(f"/users/{user['id']}")
    assert gone.status_code == 404
    assert gone.json() == {"code": 1001, "message": f"User does not exist: {user['id']}."}


def test_create_action_leaves_the_user_pending(client: httpx.Client) -> None:
    """action=create waits for the emailed confirmation: the user is listed as pending."""
    body = {"action": "create", "user_info": {"email": "invitee@example.com", "type": 1}}
    user = client.post("/users", json=body).json()
    pending = client.get("/users", params={"status": "pending", "page_size": 2000}).json()
    assert user["id"] in {u["id"] for u in pending["users"]}


def test_delete_actions_both_remove_the_user(sandbox: SandboxServer, client: httpx.Client) -> None:
    """deleteUser with action=disassociate or action=delete drops the user from listUsers."""
    seeded = sandbox.state.seeded
    victims = seeded.user_ids[-2:]
    for victim, action in zip(victims, ("disassociate", "delete"), strict=True):
        assert client.delete(f"/users/{victim}", params={"action": action}).status_code == 204
    listed = client.get("/users", params={"page_size": 2000}).json()
    assert not set(victims) & {u["id"] for u in listed["users"]}
    assert listed["total_records"] == len(seeded.user_ids) - 2
    events = [name for name, _ in sandbox.state.events]
    assert events == ["user.disassociated", "user.deleted"]


def test_duplicate_email_is_409_1005(client: httpx.Client) -> None:
    """createUser with an email already in the account is 409 code 1005."""
    body = {"action": "custCreate", "user_info": {"email": OWNER_EMAIL.upper(), "type": 1}}
    response = client.post("/users", json=body)
    assert response.status_code == 409
    assert response.json() == {
        "code": 1005,
        "message": f"User already in the account: {OWNER_EMAIL.upper()}",
    }


def test_validation_error_names_fields(client: httpx.Client) -> None:
    """A bad body is 400 code 300 with an ``errors`` entry per field."""
    response = client.post("/users", json={"action": "create", "user_info": {"type": 7}})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 300
    assert {e["field"] for e in body["errors"]} == {"user_info.email", "user_info.type"}

    registrant = client.post("/meetings/81234567890/registrants", json={})
    assert registrant.status_code == 404  # the meeting is checked first


def test_registrant_needs_email_and_first_name(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    """addMeetingRegistrant without email and first_name is 400/300 naming both."""
    meeting_id = sandbox.state.seeded.registration_meeting_id
    response = client.post(f"/meetings/{meeting_id}/registrants", json={"last_name": "X"})
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"email", "first_name"}


def test_added_registrant_is_listed(sandbox: SandboxServer, client: httpx.Client) -> None:
    """A new registrant appears in the approved list; registering again returns it."""
    meeting_id = sandbox.state.seeded.registration_meeting_id
    body = {"email": "late@example.org", "first_name": "Late"}
    first = client.post(f"/meetings/{meeting_id}/registrants", json=body).json()
    again = client.post(f"/meetings/{meeting_id}/registrants", json=body).json()
    assert again["registrant_id"] == first["registrant_id"]
    listed = client.get(f"/meetings/{meeting_id}/registrants", params={"page_size": 300}).json()
    assert first["registrant_id"] in {r["id"] for r in listed["registrants"]}
    names = [name for name, _ in sandbox.state.events]
    assert names == ["meeting.registration_created"]


def test_unknown_ids_are_404(client: httpx.Client) -> None:
    """Unknown user is 1001, unknown meeting 3001, a meeting without recording 3301."""
    user = client.get("/users/nobody@example.com")
    assert (user.status_code, user.json()["code"]) == (404, 1001)
    meeting = client.get("/meetings/12345678901")
    assert (meeting.status_code, meeting.json()["code"]) == (404, 3001)
    for path in ("/meetings/12345678901/invitation", "/meetings/12345678901/registrants"):
        assert client.get(path).json()["code"] == 3001
    recording = client.get("/meetings/12345678901/recordings")
    assert recording.status_code == 404
    assert recording.json() == {"code": 3301, "message": "There is no recording for this meeting."}
    webinar = client.get("/webinars/12345678901")
    assert (webinar.status_code, webinar.json()["code"]) == (404, 3001)


def test_missing_or_bad_token_is_401_124(sandbox: SandboxServer) -> None:
    """No token, an unknown one, or one in the query string: 401 code 124."""
    with httpx.Client(base_url=sandbox.api_base_url) as anonymous:
        response = anonymous.get("/users/me")
        assert response.status_code == 401
        assert response.json() == {"code": 124, "message": "Invalid access token."}
        unknown = anonymous.get("/users/me", headers={"Authorization": "Bearer nope"})
        assert unknown.json()["code"] == 124
        in_query = anonymous.get("/users/me", params={"access_token": "nope"})
        assert in_query.status_code == 401
        assert "query parameter" in in_query.json()["message"]


def test_expired_token_is_401_124(sandbox: SandboxServer, client: httpx.Client) -> None:
    """After ``token_ttl`` the access token is refused."""
    assert client.get("/users/me").status_code == 200
    clock = sandbox.config.clock
    assert isinstance(clock, FakeClock)
    clock.advance(3601)
    response = client.get("/users/me")
    assert response.status_code == 401
    assert response.json()["code"] == 124


def test_recording_uuid_must_be_double_encoded(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    """A UUID with ``//`` is found double-encoded, not singly encoded (as on Zoom)."""
    uuid = sandbox.state.seeded.slash_meeting_uuid
    twice = client.get(f"/meetings/{quote(quote(uuid, safe=''), safe='')}/recordings")
    assert twice.status_code == 200
    assert twice.json()["uuid"] == uuid
    once = client.get(f"/meetings/{quote(uuid, safe='')}/recordings")
    assert once.status_code == 404


def test_recordings_by_meeting_id_and_uuid(sandbox: SandboxServer, client: httpx.Client) -> None:
    """By id, the latest instance; by (encoded) UUID, that instance."""
    seeded = sandbox.state.seeded
    latest = client.get(f"/meetings/{seeded.recorded_meeting_id}/recordings").json()
    by_uuid = client.get(
        f"/meetings/{quote(seeded.recorded_meeting_uuid, safe='')}/recordings"
    ).json()
    assert latest["uuid"] == by_uuid["uuid"] == seeded.recorded_meeting_uuid
    assert latest["recording_files"][0]["id"] == seeded.recording_file_id
    assert latest["recording_files"][0]["download_url"].startswith(sandbox.url + "/rec/download/")


def test_user_recordings_window(client: httpx.Client) -> None:
    """from/to longer than a month is 400 code 300; inside a month the recordings show."""
    too_long = client.get("/users/me/recordings", params={"from": "2025-01-01", "to": "2025-03-01"})
    assert too_long.status_code == 400
    assert too_long.json()["code"] == 300
    month = client.get("/users/me/recordings", params={"from": "2025-05-16", "to": "2025-06-16"})
    body = month.json()
    assert (body["from"], body["to"]) == ("2025-05-16", "2025-06-16")
    assert body["total_records"] == 7  # seeded every 5 days, the newest today
    today = client.get("/users/me/recordings").json()
    assert today["total_records"] == 1


def test_chat_messages_need_a_contact_or_channel(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    """Without to_contact/to_channel: 400 code 300; with the contact: today's messages."""
    missing = client.get("/chat/users/me/messages")
    assert (missing.status_code, missing.json()["code"]) == (400, 300)
    contact = sandbox.state.seeded.contact_email
    messages = client.get("/chat/users/me/messages", params={"to_contact": contact}).json()
    assert messages["date"] == "2025-06-15"
    assert len(messages["messages"]) == 10
    assert messages["next_page_token"]


def test_events_reach_the_hook(clock: FakeClock, make_sandbox: object) -> None:
    """``on_event`` receives meeting.created/updated/deleted with the meeting object."""
    seen: list[tuple[str, dict[str, object]]] = []
    server = make_sandbox(  # type: ignore[operator]
        SandboxConfig(clock=clock, rate_limits=False, on_event=lambda n, o: seen.append((n, o)))
    )
    with httpx.Client(base_url=server.api_base_url) as http:
        from tests.sandbox.conftest import account_token

        http.headers["Authorization"] = f"Bearer {account_token(server)}"
        meeting = http.post("/users/me/meetings", json={"topic": "Hooked"}).json()
        http.patch(f"/meetings/{meeting['id']}", json={"topic": "Hooked 2"})
        http.delete(f"/meetings/{meeting['id']}")
    assert [name for name, _ in seen] == ["meeting.created", "meeting.updated", "meeting.deleted"]
    assert seen[0][1]["id"] == meeting["id"]
    assert seen[1][1]["topic"] == "Hooked 2"


def test_seed_is_deterministic() -> None:
    """The same seed gives the same ids; another seed different ones."""
    one = create_sandbox_app(SandboxConfig(seed=3, clock=FakeClock())).state.sandbox.seeded
    two = create_sandbox_app(SandboxConfig(seed=3, clock=FakeClock())).state.sandbox.seeded
    other = create_sandbox_app(SandboxConfig(seed=4, clock=FakeClock())).state.sandbox.seeded
    assert one == two
    assert one.owner_user_id != other.owner_user_id
    assert one.owner_email == other.owner_email == OWNER_EMAIL


def test_past_webinar_participants_by_id(sandbox: SandboxServer, client: httpx.Client) -> None:
    """Participants are listed by webinar id as by UUID; a scheduled webinar has none."""
    seeded = sandbox.state.seeded
    by_id = client.get(f"/past_webinars/{seeded.past_webinar_id}/participants").json()
    assert by_id["total_records"] == 45
    assert len(by_id["participants"]) == 30
    none = client.get(f"/past_webinars/{seeded.webinar_id}/participants").json()
    assert none["total_records"] == 0


def test_wrong_method_is_json_405(client: httpx.Client) -> None:
    """A method the endpoint lacks is 405 in Zoom's error shape, with Allow."""
    response = client.put("/users/me", json={})
    assert response.status_code == 405
    assert response.json()["code"] == 405
    assert "GET" in response.headers["allow"]


def test_registrant_status_filter(sandbox: SandboxServer, client: httpx.Client) -> None:
    """``registrants`` approved ones by default; the pending and denied ones on request."""
    path = f"/meetings/{sandbox.state.seeded.registration_meeting_id}/registrants"
    counts = {
        status: client.get(path, params={"status": status}).json()["total_records"]
        for status in ("approved", "pending", "denied")
    }
    assert counts == {"approved": 35, "pending": 3, "denied": 2}
    assert client.get(path).json()["total_records"] == 35
