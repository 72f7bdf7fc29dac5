"""Event builders and serialize(): realistic shapes, merges, and JavaScript-identical bytes."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.webhooks.conftest import FakeClock
from zoomq.errors import InvalidInput
from zoomq.sandbox.webhooks import EVENT_NAMES, build_event, serialize, wrap_event
from zoomq.webhooks import parse_envelope

REQUIRED_FILE_FIELDS = {
    "id",
    "meeting_id",
    "recording_start",
    "recording_end",
    "file_type",
    "file_size",
    "file_extension",
    "play_url",
    "download_url",
    "status",
    "recording_type",
}
REQUIRED_RECORDING_FIELDS = {
    "id",
    "uuid",
    "host_id",
    "account_id",
    "topic",
    "type",
    "start_time",
    "timezone",
    "host_email",
    "duration",
    "total_size",
    "recording_count",
    "share_url",
    "recording_files",
}


def walk(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value, *(x for v in value.values() for x in walk(v))]
    if isinstance(value, list):
        return [value, *(x for v in value for x in walk(v))]
    return [value]


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_every_event_is_a_valid_envelope_without_floats(name: str) -> None:
    """Each builder yields event/event_ts (ms)/payload, account_id, and only integer numbers."""
    clock = FakeClock()
    event = build_event(name, account_id="acct-1", clock=clock, rng=random.Random(0))
    parsed = parse_envelope(serialize(event))
    assert parsed.event == name
    assert parsed.event_ts == int(clock.now * 1000)
    assert not any(isinstance(v, float) for v in walk(event))
    if name != "endpoint.url_validation":
        assert parsed.account_id == ("acct-1" if "account_id" in event["payload"] else None)
        assert isinstance(parsed.object, dict)


def test_only_the_approval_requests_have_no_account_id() -> None:
    """Zoom's definitions omit payload.account_id for just the two admin-approval events."""
    without = {n for n in EVENT_NAMES if "account_id" not in build_event(n)["payload"]}
    assert without == {
        "endpoint.url_validation",
        "team_chat.channel_invitation_approval_requested",
        "team_chat.channel_join_approval_requested",
    }


def test_recording_completed_has_zoom_fields() -> None:
    """recording.completed: top-level download_token and the documented object and file fields."""
    event = build_event("recording.completed", rng=random.Random(2))
    assert list(event)[:2] == ["event", "event_ts"]
    assert isinstance(event["download_token"], str)
    assert "download_token" not in event["payload"]
    obj = event["payload"]["object"]
    assert obj.keys() >= REQUIRED_RECORDING_FIELDS
    assert obj["recording_count"] == len(obj["recording_files"])
    assert obj["total_size"] == sum(f["file_size"] for f in obj["recording_files"])
    for file in obj["recording_files"]:
        assert file.keys() >= REQUIRED_FILE_FIELDS
        assert file["status"] == "completed"
        assert file["meeting_id"] == obj["uuid"]
        assert file["download_url"].startswith("https://us06web.zoom.invalid/rec/")


def test_meeting_updated_has_old_object_and_operator() -> None:
    """meeting.updated carries object, old_object, operator, operator_id and time_stamp."""
    payload = build_event("meeting.updated", rng=random.Random(2))["payload"]
    assert payload.keys() >= {"object", "old_object", "operator", "operator_id", "time_stamp"}
    assert payload["object"]["id"] == payload["old_object"]["id"]


@pytest.mark.parametrize("name", ["meeting.registration_created", "webinar.registration_created"])
def test_registration_created_has_a_registrant(name: str) -> None:
    """Registration events describe the meeting and nest the registrant in the object."""
    obj = build_event(name, rng=random.Random(2))["payload"]["object"]
    assert obj.keys() >= {"id", "uuid", "host_id", "topic", "type", "start_time", "timezone"}
    assert obj["registrant"].keys() >= {"id", "email", "first_name", "last_name", "join_url"}
    assert obj["type"] == (5 if name.startswith("webinar") else 2)


def test_data_is_deep_merged_into_the_object() -> None:
    """--data sets fields of payload.object, nested objects merging key by key."""
    event = build_event(
        "meeting.registration_created",
        data={"id": 85746065432, "registrant": {"first_name": "Zoë", "last_name": "東京"}},
        rng=random.Random(5),
    )
    obj = event["payload"]["object"]
    assert obj["id"] == 85746065432
    assert obj["registrant"]["first_name"] == "Zoë"
    assert obj["registrant"]["last_name"] == "東京"
    assert obj["registrant"]["email"]  # untouched fields survive the merge


def test_data_with_payload_overrides_the_envelope() -> None:
    """--data with a payload key replaces the payload (and any other top-level field) whole."""
    recorded = {"account_id": "a", "object": {"id": 1}}
    event = build_event("recording.completed", data={"payload": recorded, "download_token": "t"})
    assert event["payload"] == recorded
    assert event["download_token"] == "t"
    assert event["event"] == "recording.completed"


def test_recording_from_rest_fills_the_object() -> None:
    """A GET /meetings/{id}/recordings body fills the object; webhook-only fields stay filled."""
    rest = {
        "uuid": "abc==",
        "id": 85746065432,
        "account_id": "acct",
        "host_id": "host",
        "topic": "From the sandbox",
        "type": "2",
        "start_time": "2025-01-01T10:00:00Z",
        "duration": 30,
        "recording_files": [
            {
                "id": "f1",
                "meeting_id": "abc==",
                "recording_start": "2025-01-01T10:00:00Z",
                "recording_end": "2025-01-01T10:30:00Z",
                "file_type": "MP4",
                "file_size": 1234.0,
                "file_extension": "MP4",
                "play_url": "http://127.0.0.1:9/rec/play/f1",
                "download_url": "http://127.0.0.1:9/rec/download/f1",
                "status": "completed",
                "recording_type": "active_speaker",
            }
        ],
    }
    event = build_event("recording.completed", recording=rest, rng=random.Random(1))
    obj = event["payload"]["object"]
    assert obj["id"] == 85746065432
    assert obj["type"] == 2
    assert obj["recording_files"][0]["file_size"] == 1234
    assert obj["recording_files"][0]["download_url"] == "http://127.0.0.1:9/rec/download/f1"
    assert obj["total_size"] == 1234
    assert obj["recording_count"] == 1
    assert obj["host_email"].endswith("@example.com")  # not in REST, filled in
    serialize(event)
    listing = {"page_size": 30, "total_records": 1, "meetings": [rest]}
    from_listing = build_event("recording.completed", recording=listing, rng=random.Random(1))
    assert from_listing["payload"]["object"] == obj
    assert "page_size" not in from_listing["payload"]["object"]


def test_recording_only_fills_recording_completed() -> None:
    """Passing a recording for another event is an input error."""
    with pytest.raises(InvalidInput):
        build_event("meeting.created", recording={"id": 1})


def test_unknown_event_is_an_input_error_suggesting_close_names() -> None:
    """Unknown event names are refused with the nearest known ones as suggestions."""
    with pytest.raises(InvalidInput, match=r"did you mean recording\.completed\b"):
        build_event("recording.complete")


def test_same_rng_and_clock_give_the_same_event() -> None:
    """Builders are deterministic given the injected rng and clock."""
    one = build_event("recording.completed", clock=FakeClock(), rng=random.Random(9))
    two = build_event("recording.completed", clock=FakeClock(), rng=random.Random(9))
    assert one == two


def test_wrap_event_sends_the_object_as_given() -> None:
    """The sandbox's object becomes payload.object untouched, with an envelope around it."""
    obj = {"id": 85746065432, "uuid": "u==", "topic": "Zoë 東京"}
    event = wrap_event("meeting.updated", obj, account_id="acct")
    assert event["payload"]["object"] == obj
    assert event["payload"]["old_object"] == {"id": 85746065432, "uuid": "u=="}
    assert event["payload"]["account_id"] == "acct"
    recording = wrap_event("recording.completed", {"id": 1, "recording_files": []})
    assert recording["download_token"]
    assert recording["payload"]["object"] == {"id": 1, "recording_files": []}


def test_serialize_is_compact_utf8_in_order() -> None:
    """Compact separators, raw UTF-8 (no \\u escapes), insertion order kept."""
    body = serialize({"event": "x", "payload": {"topic": "Zoë 東京", "id": 85746065432}})
    assert body == '{"event":"x","payload":{"topic":"Zoë 東京","id":85746065432}}'.encode()


def test_serialize_writes_numbers_and_keys_as_javascript_does() -> None:
    """1.0 becomes 1 and integer-like keys come first, as JSON.stringify(JSON.parse()) gives."""
    body = serialize({"b": 1.0, "10": 2, "2": 3, "a": 0.5, "01": 4})
    assert body == b'{"2":3,"10":2,"b":1,"a":0.5,"01":4}'


@pytest.mark.parametrize(
    "value", [2**53, -(2**53), float("nan"), float("inf"), 1e-7, 1e17, {1: "x"}, b"x", "\ud800"]
)
def test_serialize_refuses_what_javascript_would_change(value: object) -> None:
    """Values JSON.parse/stringify would not reproduce are refused rather than sent wrong."""
    with pytest.raises(InvalidInput):
        serialize({"payload": {"v": value}})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"])),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@given(payload=json_values)
def test_serialize_is_a_fixed_point_of_parse_and_reserialise(payload: Any) -> None:
    """Property: parsing the body and writing it back compactly gives the same bytes."""
    body = serialize({"event": "x", "event_ts": 1, "payload": payload})
    again = json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False)
    assert again.encode() == body
