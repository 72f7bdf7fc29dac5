"""The input models: names accepted, values checked, and where each field lands."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from zoomq.actions import inputs
from zoomq.actions.base import ActionInput, build_request
from zoomq.actions.catalog import CATALOG
from zoomq.actions.inputs import (
    AddMeetingRegistrant,
    AddWebinarRegistrant,
    CreateMeeting,
    CreateUser,
    DeleteUser,
    GetMeeting,
    GetMeetingRecordings,
    GetPhoneRecordings,
    GetWebinar,
    ListMeetingRegistrants,
    ListMeetings,
    ListUsersChatMessages,
    ListUsersRecordings,
    ListWebinarParticipants,
    ListWebinarRegistrants,
    RawRequest,
    UpdateMeeting,
    UpdateUser,
)


def errors_of(model: type[ActionInput], data: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return [dict(e) for e in info.value.errors()]


def locs(model: type[ActionInput], data: dict[str, Any]) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in errors_of(model, data)}


def messages(model: type[ActionInput], data: dict[str, Any]) -> str:
    return " | ".join(e["msg"] for e in errors_of(model, data))


# -- names ----------------------------------------------------------------------------------


def test_camel_and_snake_case_build_the_same_request() -> None:
    """camelCase (the reference's) and snake_case names are interchangeable."""
    camel = AddMeetingRegistrant.model_validate(
        {"meetingId": "1", "email": "a@example.com", "firstName": "A", "jobTitle": "Chef"}
    )
    snake = AddMeetingRegistrant.model_validate(
        {"meeting_id": "1", "email": "a@example.com", "first_name": "A", "job_title": "Chef"}
    )
    assert build_request(camel) == build_request(snake)
    assert build_request(camel).body == {
        "email": "a@example.com",
        "first_name": "A",
        "job_title": "Chef",
    }


REFERENCE_NAMES: list[tuple[type[ActionInput], dict[str, Any], str, str, Any]] = [
    (GetMeeting, {"meetingId": "1"}, "ocurrenceId", "occurrence_id", "16"),
    (ListMeetingRegistrants, {"meetingId": "1"}, "ocurrenceId", "occurrence_id", "16"),
    (GetWebinar, {"webinarId": "1"}, "occurrenceIdWebinar", "occurrence_id", "16"),
    (
        GetWebinar,
        {"webinarId": "1"},
        "showPreviousOccurrencesWebinar",
        "show_previous_occurrences",
        True,
    ),
    (UpdateMeeting, {"meetingId": "1"}, "occurrenceIdQuery", "occurrence_id", "16"),
    (UpdateMeeting, {"meetingId": "1"}, "meetingType", "type", 8),
    (CreateMeeting, {"userId": "me"}, "meetingType", "type", 3),
    (CreateMeeting, {"userId": "me"}, "usePMI", "use_pmi", True),
    (
        CreateMeeting,
        {"userId": "me"},
        "registrationEmailNotifications",
        "registrants_email_notification",
        True,
    ),
    (CreateMeeting, {"userId": "me", "recurrence": 2}, "weeklyDay", "weekly_days", "1,3"),
    (ListMeetings, {"userId": "me"}, "typeOfMeeting", "type", "live"),
    (ListWebinarRegistrants, {"webinarId": "1"}, "occurrenceIdWebinarQuery", "occurrence_id", "16"),
    (ListWebinarRegistrants, {"webinarId": "1"}, "registrantStatus", "status", "pending"),
    (UpdateUser, {"userId": "me"}, "zoomOneTypeUpdate", "zoom_one_type", 64),
    (UpdateUser, {"userId": "me"}, "planUnitedTypeUpdate", "plan_united_type", "none"),
    (UpdateUser, {"userId": "me"}, "userType", "type", 2),
    (CreateUser, {"email": "a@example.com"}, "userType", "type", 1),
    (
        AddMeetingRegistrant,
        {"meetingId": "1", "email": "a@example.com", "firstName": "A"},
        "ocurrenceIds",
        "occurrence_ids",
        ["16", "17"],
    ),
    (
        AddWebinarRegistrant,
        {"webinarId": "1", "email": "a@example.com", "firstName": "A"},
        "numberOfEmployees",
        "no_of_employees",
        "1-20",
    ),
]


@pytest.mark.parametrize(
    ("model", "base", "reference", "field", "value"),
    REFERENCE_NAMES,
    ids=[f"{m.__name__}.{ref}" for m, _, ref, _, _ in REFERENCE_NAMES],
)
def test_reference_names_are_accepted(
    model: type[ActionInput], base: dict[str, Any], reference: str, field: str, value: Any
) -> None:
    """The reference's name (misspellings included), the camelCase and snake_case all work."""
    camel = model.model_fields[field].alias
    assert camel is not None
    for name in {reference, camel, field}:
        parsed = model.model_validate({**base, name: value})
        assert getattr(parsed, field) == value, name


def test_unknown_field_is_named() -> None:
    """A typo is an error naming the field, not a silent drop."""
    errors = errors_of(CreateMeeting, {"userId": "me", "topicc": "Sync"})
    assert [(e["loc"], e["type"]) for e in errors] == [(("topicc",), "extra_forbidden")]


def test_missing_required_field_is_named() -> None:
    """A missing required field is reported under the reference's name."""
    assert locs(CreateUser, {"email": "a@example.com"}) == {"userType"}
    assert locs(AddMeetingRegistrant, {"meetingId": "1", "email": "a@example.com"}) == {"firstName"}


def test_list_meetings_has_no_timezone() -> None:
    """Zoom's spec declares no ``timezone`` query for listMeetings, so timezoneQuery is refused."""
    assert locs(ListMeetings, {"userId": "me", "timezoneQuery": "UTC"}) == {"timezoneQuery"}


# -- the reference component's bugs, not reproduced ------------------------------------------


def test_no_sample_json_defaults_are_sent() -> None:
    """No sample settings, tracking fields, questions, attributes or phone numbers are sent."""
    assert build_request(CreateMeeting.model_validate({"userId": "me"})).body == {"type": 2}
    registrant = AddMeetingRegistrant.model_validate(
        {"meetingId": "1", "email": "a@example.com", "firstName": "A"}
    )
    assert build_request(registrant).body == {"email": "a@example.com", "first_name": "A"}
    assert build_request(UpdateUser.model_validate({"userId": "me"})).body == {}


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (DeleteUser, {"userId": "me"}),
        (GetMeeting, {"meetingId": "1"}),
        (GetWebinar, {"webinarId": "1"}),
        (ListUsersChatMessages, {"userId": "me", "toContact": "a@example.com"}),
        (UpdateMeeting, {"meetingId": "1"}),
        (CreateMeeting, {"userId": "me"}),
        (CreateUser, {"email": "a@example.com", "userType": 1}),
        (UpdateUser, {"userId": "me"}),
        (AddMeetingRegistrant, {"meetingId": "1", "email": "a@example.com", "firstName": "A"}),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_unset_booleans_are_not_sent(model: type[ActionInput], data: dict[str, Any]) -> None:
    """Booleans left blank are not sent (the reference sends them as false)."""
    parts = build_request(model.model_validate(data))

    def booleans(node: Any) -> list[Any]:
        if isinstance(node, dict):
            return [b for v in node.values() for b in booleans(v)]
        return [node] if isinstance(node, bool) else []

    assert booleans(parts.body or {}) == []
    assert not {v for v in parts.query.values() if v in ("true", "false")}


def test_unset_endtimes_is_not_sent() -> None:
    """endTimes has no default of 1: a recurrence sends only what was given."""
    model = CreateMeeting.model_validate({"userId": "me", "meetingType": 8, "recurrence": 1})
    assert build_request(model).body == {"type": 8, "recurrence": {"type": 1}}


def test_add_webinar_registrant_puts_webinar_id_in_the_path() -> None:
    """addWebinarRegistrant takes a required webinarId (the reference sends "[object Object]")."""
    data = {"webinarId": "95204914252", "email": "a@example.com", "firstName": "A"}
    parts = build_request(AddWebinarRegistrant.model_validate(data))
    assert parts.path_params == {"webinarId": "95204914252"}
    assert locs(AddWebinarRegistrant, {"email": "a@example.com", "firstName": "A"}) == {"webinarId"}


def test_list_meeting_registrants_sends_occurrence_id() -> None:
    """The occurrence goes in ``occurrence_id`` (the reference misspells it ``occurence_id``)."""
    model = ListMeetingRegistrants.model_validate({"meetingId": "1", "ocurrenceId": "16"})
    assert build_request(model).query == {"occurrence_id": "16", "status": "approved"}


def test_update_meeting_sends_only_what_is_given() -> None:
    """updateMeeting sends no recurrence object and no type unless they are given."""
    model = UpdateMeeting.model_validate({"meetingId": "1", "topic": "New topic"})
    assert build_request(model).body == {"topic": "New topic"}
    model = UpdateMeeting.model_validate({"meetingId": "1", "recurrence": "1", "endTimes": "3"})
    assert build_request(model).body == {"recurrence": {"type": 1, "end_times": 3}}


def test_large_zoom_one_codes_stay_exact() -> None:
    """Zoom One codes above 2**53 stay exact integers (the reference rounds them)."""
    big = 576460752303423488
    for value in (str(big), big):
        model = CreateUser.model_validate(
            {"email": "a@example.com", "userType": 2, "zoomOneType": value}
        )
        sent = build_request(model).body
        assert sent is not None
        assert sent["user_info"]["feature"]["zoom_one_type"] == big
        assert type(sent["user_info"]["feature"]["zoom_one_type"]) is int
    # The value the rounding produces is not a plan code.
    assert "zoomOneType" in locs(
        CreateUser, {"email": "a@example.com", "userType": 2, "zoomOneType": 576460752303423500}
    )


# -- placement --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "key", "value", "encoded"),
    [
        (GetMeetingRecordings, "meetingId", "/abc==", "%252Fabc%253D%253D"),
        (GetMeetingRecordings, "meetingId", "a//b", "a%252F%252Fb"),
        (GetMeetingRecordings, "meetingId", "abc==", "abc%3D%3D"),
        (GetMeetingRecordings, "meetingId", 85746065, "85746065"),
        (GetMeeting, "meetingId", "/abc==", "%252Fabc%253D%253D"),
        (GetWebinar, "webinarId", "a//b", "a%252F%252Fb"),
        (ListWebinarParticipants, "webinarId", "/abc==", "%252Fabc%253D%253D"),
    ],
)
def test_uuids_are_double_encoded(
    model: type[ActionInput], key: str, value: Any, encoded: str
) -> None:
    """UUIDs starting with ``/`` or holding ``//`` are double-encoded; others encoded once."""
    parts = build_request(model.model_validate({key: value}))
    assert parts.path_params == {key: encoded}


def test_create_meeting_settings_merge_order() -> None:
    """Settings inputs first, then ``settings``, then ``settingsExtraFields`` override."""
    model = CreateMeeting.model_validate(
        {
            "userId": "me",
            "hostVideo": True,
            "muteUponEntry": True,
            "availableDialInCountries": "US, FR",
            "settings": {"host_video": False, "waiting_room": True, "jbh_time": 5},
            "settingsExtraFields": '{"waiting_room": false}',
        }
    )
    assert build_request(model).body == {
        "type": 2,
        "settings": {
            "host_video": False,
            "mute_upon_entry": True,
            "global_dial_in_countries": ["US", "FR"],
            "waiting_room": False,
            "jbh_time": 5,
        },
    }


def test_delete_user_disassociates_by_default() -> None:
    """deleteUser unlinks the user unless ``action=delete`` is given."""
    parts = build_request(DeleteUser.model_validate({"userId": "me"}))
    assert parts.query == {"action": "disassociate"}
    assert parts.body is None


def test_create_user_body_shape() -> None:
    """createUser nests the user under ``user_info`` and features under ``feature``."""
    model = CreateUser.model_validate(
        {
            "email": "a@example.com",
            "firstName": "A",
            "userType": "2",
            "zoomPhone": True,
            "planUnitedType": 32,
        }
    )
    assert build_request(model).body == {
        "action": "create",
        "user_info": {
            "email": "a@example.com",
            "first_name": "A",
            "type": 2,
            "feature": {"zoom_phone": True},
            "plan_united_type": "32",
        },
    }


def test_numbers_given_as_text_become_numbers() -> None:
    """The reference sends numbers as text; they are sent to Zoom as numbers."""
    model = CreateMeeting.model_validate(
        {"userId": "me", "meetingType": "2", "duration": "45", "approvalType": "1"}
    )
    assert build_request(model).body == {
        "type": 2,
        "duration": 45,
        "settings": {"approval_type": 1},
    }


def test_registrant_choices_take_zoom_spelling() -> None:
    """Choice text is matched ignoring case and sent in Zoom's spelling."""
    model = AddMeetingRegistrant.model_validate(
        {
            "meetingId": "1",
            "email": "a@example.com",
            "firstName": "A",
            "roleInPurchaseProcess": "Not Involved",
            "language": "tr-TR",
            "customQuestions": '[{"title": "Why", "value": "Because"}]',
        }
    )
    body = build_request(model).body
    assert body is not None
    assert body["role_in_purchase_process"] == "Not involved"
    assert body["language"] == "Tr-TR"
    assert body["custom_questions"] == [{"title": "Why", "value": "Because"}]


# -- values and cross-field rules -------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "data", "expected"),
    [
        (CreateMeeting, {"userId": "me", "meetingType": 4}, "meetingType"),
        (CreateMeeting, {"userId": "me", "audio": "loud"}, "audio"),
        (CreateMeeting, {"userId": "me", "autoRecording": "cloudy"}, "autoRecording"),
        (CreateMeeting, {"userId": "me", "approvalType": 3}, "approvalType"),
        (CreateMeeting, {"userId": "me", "topic": "x" * 201}, "topic"),
        (CreateMeeting, {"userId": "me", "settings": "{not json"}, "settings"),
        (CreateMeeting, {"userId": "me", "trackingFields": [{"value": "v"}]}, "trackingFields"),
        (CreateUser, {"email": "not-an-email", "userType": 1}, "email"),
        (CreateUser, {"email": "a@example.com", "userType": 3}, "userType"),
        (CreateUser, {"email": "a@example.com", "userType": 1, "action": "make"}, "action"),
        (DeleteUser, {"userId": "me", "action": "remove"}, "action"),
        (GetMeetingRecordings, {"meetingId": "1", "ttl": 604801}, "ttl"),
        (ListMeetings, {"userId": "me", "typeOfMeeting": "past"}, "typeOfMeeting"),
        (ListMeetings, {"userId": "me", "from": "2026-02-30"}, "from"),
        (ListUsersRecordings, {"userId": "me", "from": "01/02/2026", "to": "2026-01-03"}, "from"),
        (UpdateUser, {"userId": "me", "pmi": "123"}, "pmi"),
        (UpdateUser, {"userId": "me", "planUnitedTypeUpdate": "3"}, "planUnitedTypeUpdate"),
        (UpdateUser, {"userId": "me", "phoneNumbers": [{"label": "Pager"}]}, "phoneNumbers"),
    ],
)
def test_bad_values_are_named(
    model: type[ActionInput], data: dict[str, Any], expected: str
) -> None:
    """A value outside the documented set is an error naming its field."""
    assert any(loc.split(".")[0] == expected for loc in locs(model, data))


@pytest.mark.parametrize(
    ("model", "data", "fragment"),
    [
        (CreateMeeting, {"userId": "me", "repeatInterval": 2}, "recurrence"),
        (
            CreateMeeting,
            {"userId": "me", "recurrence": 1, "endTimes": 2, "endDateTime": "2026-01-01T00:00:00Z"},
            "not both",
        ),
        (CreateMeeting, {"userId": "me", "recurrence": 3, "repeatInterval": 4}, "at most 3"),
        (ListUsersChatMessages, {"userId": "me"}, "toContact or toChannel"),
        (ListUsersChatMessages, {"userId": "me", "searchKey": "x"}, "together"),
        (
            ListUsersChatMessages,
            {
                "userId": "me",
                "searchType": "file",
                "searchKey": "x",
                "includeDeletedAndEditedMessage": True,
            },
            "cannot be combined",
        ),
        (GetPhoneRecordings, {"userId": "me", "from": "2026-01-01"}, "to is required"),
        (
            GetPhoneRecordings,
            {"userId": "me", "from": "2026-02-01", "to": "2026-01-01"},
            "from (2026-02-01) must not be after to",
        ),
        (ListUsersRecordings, {"userId": "me", "from": "2026-01-01"}, "to is required"),
        (
            ListUsersRecordings,
            {"userId": "me", "from": "2026-03-01", "to": "2026-01-01"},
            "must not be after to",
        ),
        (
            ListUsersRecordings,
            {"userId": "me", "trash": True, "from": "2026-01-01", "to": "2026-01-02"},
            "trash",
        ),
        (DeleteUser, {"userId": "me", "transferMeeting": True}, "transferEmail"),
    ],
)
def test_cross_field_rules(model: type[ActionInput], data: dict[str, Any], fragment: str) -> None:
    """Rules that involve several fields explain themselves, naming the fields."""
    assert fragment in messages(model, data)


def test_chat_search_needs_no_contact() -> None:
    """A search (searchType with searchKey) needs neither toContact nor toChannel."""
    model = ListUsersChatMessages.model_validate(
        {"userId": "me", "searchType": "message", "searchKey": "launch"}
    )
    assert build_request(model).query == {"search_type": "message", "search_key": "launch"}


def test_list_options_are_not_sent() -> None:
    """max_items and max_pages bound the walk and never reach Zoom."""
    model = ListMeetings.model_validate({"userId": "me", "maxItems": 5, "maxPages": 2})
    assert (model.max_items, model.max_pages) == (5, 2)
    assert build_request(model).query == {"type": "scheduled"}


def test_passwords_stay_out_of_reprs() -> None:
    """Passwords and host keys are not shown when a model is printed or logged."""
    model = CreateUser.model_validate({"email": "a@example.com", "userType": 1, "password": "pw1"})
    assert "pw1" not in repr(model)
    meeting = CreateMeeting.model_validate({"userId": "me", "password": "pw2"})
    assert "pw2" not in repr(meeting)


# -- rawRequest input -------------------------------------------------------------------------


def test_raw_request_accepts_both_pair_shapes() -> None:
    """Query parameters and headers come as an object or as the reference's key/value list."""
    listed = RawRequest.model_validate(
        {
            "method": "get",
            "url": "users/me",
            "queryParams": [{"key": "page_size", "value": 10}, {"key": "x", "value": True}],
            "headers": [{"key": "X-Trace", "value": "1"}],
        }
    )
    assert listed.method == "GET"
    assert listed.url == "/users/me"
    assert listed.query_params == {"page_size": "10", "x": "true"}
    assert listed.headers == {"X-Trace": "1"}
    mapped = RawRequest.model_validate(
        {"method": "GET", "url": "/users/me", "query_params": {"page_size": "10", "x": "true"}}
    )
    assert mapped.query_params == listed.query_params


def test_raw_request_body_is_json() -> None:
    """``data`` (or ``body``) is a JSON value or a string holding JSON."""
    as_text = RawRequest.model_validate({"method": "POST", "url": "/x", "data": '{"a": [1]}'})
    as_value = RawRequest.model_validate({"method": "POST", "url": "/x", "body": {"a": [1]}})
    assert as_text.data == as_value.data == {"a": [1]}
    assert locs(RawRequest, {"method": "POST", "url": "/x", "data": "{oops"}) == {"data"}


@pytest.mark.parametrize(
    "url", ["//evil.example/x", "ftp://api.zoom.us/x", "https://u:p@api.zoom.us/"]
)
def test_raw_request_refuses_odd_urls(url: str) -> None:
    """Scheme-relative URLs, other schemes and credentials in URLs are refused."""
    assert locs(RawRequest, {"method": "GET", "url": url}) == {"url"}


def test_raw_request_method_is_checked() -> None:
    """Only the HTTP methods Zoom's API uses are accepted."""
    assert locs(RawRequest, {"method": "PURGE", "url": "/x"}) == {"method"}


# -- the public surface ------------------------------------------------------------------------


def test_every_action_model_is_exported_and_documented() -> None:
    """Each catalog input is exported by ``inputs`` and has a one-sentence docstring of its own."""
    for action in CATALOG.values():
        model = action.input
        assert getattr(inputs, model.__name__) is model
        assert model.__name__ in inputs.__all__
        doc = model.__dict__.get("__doc__") or ""
        assert doc.strip(), model.__name__
        assert "\n" not in doc.strip(), model.__name__
        assert doc.strip().endswith("."), model.__name__
        assert doc.strip().count(". ") == 0, model.__name__


@pytest.mark.parametrize("value", [".", ".."])
@pytest.mark.parametrize(
    ("action", "field"),
    [("getUser", "userId"), ("getMeeting", "meetingId"), ("getMeetingRecordings", "meetingId")],
)
def test_dot_segments_are_refused_as_path_values(action: str, field: str, value: str) -> None:
    """`/users/..` would resolve to another endpoint at the server: refused, naming the field."""
    model = CATALOG[action].input
    assert f"{value!r} is not a valid path value" in messages(model, {field: value})


def test_dots_inside_a_path_value_are_kept() -> None:
    """Only a whole `.` or `..` segment is refused; an id with dots is a plain value."""
    assert build_request(GetMeeting(meeting_id="a..b")).path_params == {"meetingId": "a..b"}
