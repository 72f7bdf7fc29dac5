"""Every catalog action's request conforms to Zoom's own OpenAPI spec.

The specs are read from ``../shared/zoom-openapi/`` beside the repository (never copied
into it). For each action, example inputs (``FULL``: every field that can be set, in the
reference component's camelCase names; ``MINIMAL``: only what is required) are turned into
a request with ``build_request`` and checked against the operation: path, query parameters
and their schemas, the JSON request body, the success status and the page size.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import ValidationError

from zoomq.actions.base import build_request
from zoomq.actions.catalog import CATALOG, Action
from zoomq.actions.fields import InBody, InPath, InQuery

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / ".." / "shared" / "zoom-openapi"

pytestmark = pytest.mark.skipif(
    not SPECS.is_dir(), reason=f"Zoom OpenAPI specs not found at {SPECS.resolve()}"
)

ACTION_KEYS = (
    "addMeetingRegistrant",
    "addWebinarRegistrant",
    "createMeeting",
    "createUser",
    "deleteUser",
    "getAccountsPhoneRecordings",
    "getMeeting",
    "getMeetingInvitation",
    "getMeetingRecordings",
    "getPhoneRecordings",
    "getUser",
    "getUsersPhoneRecordings",
    "getWebinar",
    "listMeetingRegistrants",
    "listMeetings",
    "listUsersChannels",
    "listUsersChatMessages",
    "listUsersRecordings",
    "listUsers",
    "listWebinarParticipants",
    "listWebinarRegistrants",
    "listWebinars",
    "rawRequest",
    "updateMeeting",
    "updateUser",
)
SPEC_ACTIONS = sorted(key for key in CATALOG if key != "rawRequest")

MEETING = "85746065"
WEBINAR = "95204914252"
OCCURRENCE = "1648194360000"

_REGISTRANT: dict[str, Any] = {
    "ocurrenceIds": f"{OCCURRENCE},1648280760000",
    "email": "jchill@example.com",
    "firstName": "Jill",
    "lastName": "Chill",
    "address": "1800 Amphibious Blvd.",
    "city": "Mountain View",
    "state": "CA",
    "zip": "94045",
    "country": "US",
    "phone": "5550100",
    "comments": "Looking forward to it.",
    "customQuestions": '[{"title": "Favourite colour", "value": "blue"}]',
    "industry": "Food",
    "org": "Cooking Org",
    "jobTitle": "Chef",
    "purchasingTimeFrame": "1-3 months",
    "roleInPurchaseProcess": "Not Involved",  # the reference's spelling; Zoom's is "involved"
    "numberOfEmployees": "1,001-5,000",
    "language": "en-US",
}

_MEETING_FORM: dict[str, Any] = {
    "topic": "Weekly sync",
    "startTime": "2026-03-02T15:00:00Z",
    "duration": "60",
    "timezone": "Europe/Paris",
    "password": "s3cret",
    "agenda": "Plans for the week",
    "preSchedule": "false",
    "scheduleFor": "sam@example.com",
    "templateId": "tmpl-1",
    "trackingFields": [{"field": "team", "value": "sales"}],
    "recurrence": "2",
    "repeatInterval": "1",
    "weeklyDay": "2",
    "endTimes": "10",
    "hostVideo": True,
    "participantVideo": False,
    "joinBeforeHost": "true",
    "muteUponEntry": True,
    "watermark": False,
    "usePMI": False,
    "registrationEmailNotifications": True,
    "approvalType": "0",
    "registrationType": "1",
    "audio": "voip",
    "autoRecording": "cloud",
    "availableDialInCountries": ["US", "FR"],
    "settings": {"waiting_room": True, "jbh_time": 5},
    "settingsExtraFields": '{"waiting_room": false, "alternative_hosts": "sam@example.com"}',
}

#: Monthly recurrence fields, which exclude ``endTimes``.
_MONTHLY: dict[str, Any] = {
    "meetingType": "8",
    "recurrence": "3",
    "repeatInterval": "2",
    "monthlyDay": "15",
    "monthlyWeek": "-1",
    "monthlyWeekDay": "6",
    "endDateTime": "2026-12-31T23:00:00Z",
}

FULL: dict[str, list[dict[str, Any]]] = {
    "addMeetingRegistrant": [{"meetingId": MEETING, **_REGISTRANT, "autoApprove": "true"}],
    "addWebinarRegistrant": [{"webinarId": WEBINAR, **_REGISTRANT, "sourceId": "4816766181770"}],
    "createMeeting": [
        {"userId": "me", "meetingType": "8", "defaultPassword": False, **_MEETING_FORM},
        {"userId": "me", **_MONTHLY},
    ],
    "createUser": [
        {
            "action": "custCreate",
            "email": "jchill@example.com",
            "firstName": "Jill",
            "lastName": "Chill",
            "displayName": "Jill Chill",
            "password": "if42!LfH@",
            "userType": "2",
            "zoomPhone": "true",
            "zoomOneType": "64",
            "planUnitedType": "32",
        }
    ],
    "deleteUser": [
        {
            "userId": "jchill@example.com",
            "encryptedEmail": False,
            "action": "delete",
            "transferEmail": "sam@example.com",
            "transferMeeting": True,
            "transferWebinar": True,
            "transferRecording": True,
            "transferWhiteboard": True,
            "transferClipfiles": True,
            "transferNotes": False,
            "transferVisitors": True,
            "transferDocs": True,
        }
    ],
    "getAccountsPhoneRecordings": [
        {
            "from": "2026-01-01",
            "to": "2026-01-31",
            "ownerType": "callQueue",
            "recordingType": "OnDemand",
            "siteId": "8f71O6rWT8KFUGQmJIFAdQ",
            "queryDateType": "end_time",
            "groupId": "jskaf2GpUwRYfZtqcHCeTb",
            "maxItems": 10,
            "maxPages": 2,
        }
    ],
    "getMeeting": [
        {"meetingId": MEETING, "ocurrenceId": OCCURRENCE, "showPreviousOccurrences": "true"}
    ],
    "getMeetingInvitation": [{"meetingId": MEETING}],
    "getMeetingRecordings": [
        {"meetingId": MEETING, "includeFields": "download_access_token", "ttl": "3600"}
    ],
    "getPhoneRecordings": [{"userId": "me", "from": "2026-01-01", "to": "2026-01-31"}],
    "getUser": [
        {"userId": "me", "loginType": "100", "encryptedEmail": False, "searchByUniqueId": True}
    ],
    "getUsersPhoneRecordings": [
        {"userId": "jchill@example.com", "from": "2026-01-01", "to": "2026-01-31"}
    ],
    "getWebinar": [
        {
            "webinarId": WEBINAR,
            "occurrenceIdWebinar": OCCURRENCE,
            "showPreviousOccurrencesWebinar": True,
        }
    ],
    "listMeetingRegistrants": [
        {"meetingId": MEETING, "ocurrenceId": OCCURRENCE, "status": "pending", "maxItems": 5}
    ],
    "listMeetings": [
        {"userId": "me", "typeOfMeeting": "upcoming", "from": "2026-01-01", "to": "2026-03-31"}
    ],
    "listUsersChannels": [{"userId": "me", "maxPages": 1}],
    "listUsersChatMessages": [
        {
            "userId": "me",
            "toContact": "sam@example.com",
            "date": "2026-01-15",
            "includeDeletedAndEditedMessage": True,
            "excludeChildMessage": False,
            "downloadFileFormats": "audio/mp4",
        },
        {
            "userId": "me",
            "toChannel": "4c3b2a1",
            "from": "2026-01-01T00:00:00Z",
            "to": "2026-01-02T00:00:00Z",
        },
        {"userId": "me", "searchType": "message", "searchKey": "launch"},
    ],
    "listUsersRecordings": [
        {"userId": "me", "from": "2026-01-15", "to": "2026-02-14", "mc": False, "meetingId": 123},
        {"userId": "me", "trash": True, "trashType": "recording_file"},
    ],
    "listUsers": [
        {
            "status": "inactive",
            "roleId": "2",
            "includeFields": "host_key",
            "license": "zoom_workforce_management",
        }
    ],
    "listWebinarParticipants": [{"webinarId": WEBINAR}],
    "listWebinarRegistrants": [
        {
            "webinarId": WEBINAR,
            "occurrenceIdWebinarQuery": OCCURRENCE,
            "registrantStatus": "denied",
            "trackingSourceId": "5516482804110",
        }
    ],
    "listWebinars": [{"userId": "me", "type": "upcoming"}],
    "updateMeeting": [
        {
            "meetingId": MEETING,
            "occurrenceIdQuery": OCCURRENCE,
            "meetingType": "8",
            **_MEETING_FORM,
        },
        {"meetingId": MEETING, **_MONTHLY},
    ],
    "updateUser": [
        {
            "userId": "me",
            "loginType": "1",
            "removeTspCredentials": True,
            "cmsUserId": "KDcuGIm1QgePTO8WbOqwIQ",
            "company": "Jill",
            "customAttributes": '[{"key": "cbf36", "name": "Country", "value": "US"}]',
            "dept": "HR",
            "firstName": "Jill",
            "lastName": "Chill",
            "groupId": "RSMaSp8sTEGK0_oamiA2_w",
            "hostKey": "123456",
            "jobTitle": "Product Manager",
            "language": "en-US",
            "location": "Paris",
            "manager": "sam@example.com",
            "phoneNumbers": [
                {"code": "+1", "country": "US", "label": "Mobile", "number": "800000000"}
            ],
            "pmi": "3542471135",
            "pronouns": "she/her",
            "pronounsOption": "1",
            "timezone": "Europe/Paris",
            "userType": "2",
            "usePMI": False,
            "vanityName": "jillchill",
            "displayName": "Jill Chill",
            "zoomOneTypeUpdate": "0",
            "planUnitedTypeUpdate": "none",
            "zoomPhone": False,
            "aboutMe": "Cooks.",
            "linkedinUrl": "https://www.linkedin.com/in/jill-chill",
        }
    ],
}

MINIMAL: dict[str, dict[str, Any]] = {
    "addMeetingRegistrant": {"meetingId": MEETING, "email": "a@example.com", "firstName": "A"},
    "addWebinarRegistrant": {"webinarId": WEBINAR, "email": "a@example.com", "firstName": "A"},
    "createMeeting": {"userId": "me"},
    "createUser": {"email": "a@example.com", "userType": "1"},
    "deleteUser": {"userId": "me"},
    "getAccountsPhoneRecordings": {},
    "getMeeting": {"meetingId": MEETING},
    "getMeetingInvitation": {"meetingId": MEETING},
    "getMeetingRecordings": {"meetingId": MEETING},
    "getPhoneRecordings": {"userId": "me"},
    "getUser": {"userId": "me"},
    "getUsersPhoneRecordings": {"userId": "me"},
    "getWebinar": {"webinarId": WEBINAR},
    "listMeetingRegistrants": {"meetingId": MEETING},
    "listMeetings": {"userId": "me"},
    "listUsersChannels": {"userId": "me"},
    # Zoom needs a contact or a channel unless searching.
    "listUsersChatMessages": {"userId": "me", "toChannel": "4c3b2a1"},
    "listUsersRecordings": {"userId": "me"},
    "listUsers": {},
    "listWebinarParticipants": {"webinarId": WEBINAR},
    "listWebinarRegistrants": {"webinarId": WEBINAR},
    "listWebinars": {"userId": "me"},
    "updateMeeting": {"meetingId": MEETING},
    "updateUser": {"userId": "me"},
}


# -- reading the spec ---------------------------------------------------------------------

#: OpenAPI-only keywords that are not JSON Schema (or whose meaning differs).
_OPENAPI_ONLY = {"example", "examples", "xml", "externalDocs", "discriminator"}
#: Keywords whose values are maps of names to schemas (their keys are not keywords).
_SCHEMA_MAPS = {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}


def _to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema → JSON Schema: drop ``example`` and ``x-*``, make ``nullable`` a type."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _OPENAPI_ONLY or key.startswith("x-") or key == "nullable":
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _to_json_schema(sub) for name, sub in value.items()}
        else:
            out[key] = _to_json_schema(value)
    if node.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


@cache
def spec(name: str) -> dict[str, Any]:
    with (SPECS / name).open(encoding="utf-8") as fh:
        document: dict[str, Any] = json.load(fh)
    return document


@cache
def components(name: str) -> dict[str, Any]:
    converted: dict[str, Any] = _to_json_schema(spec(name).get("components", {}))
    return converted


def resolve(name: str, node: Any) -> Any:
    """Follow ``$ref`` pointers within the spec document ``name``."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec(name)
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def validator(name: str, schema: Any) -> Draft202012Validator:
    """A validator for a schema of the spec ``name``; its ``#/components`` refs resolve."""
    root = {**_to_json_schema(schema), "components": components(name)}
    return Draft202012Validator(root, format_checker=FormatChecker())


def operation(action: Action) -> dict[str, Any]:
    item = spec(action.spec)["paths"].get(action.path)
    assert item is not None, f"{action.key}: {action.path} is not a path of {action.spec}"
    op = item.get(action.method.lower())
    assert op is not None, f"{action.key}: {action.method} {action.path} not in {action.spec}"
    return {**op, "parameters": [*item.get("parameters", []), *op.get("parameters", [])]}


def parameters(action: Action, where: str) -> dict[str, dict[str, Any]]:
    params = (resolve(action.spec, p) for p in operation(action)["parameters"])
    return {p["name"]: p for p in params if p["in"] == where}


def _typed(value: str, schema: dict[str, Any]) -> Any:
    """A query/path string as the JSON value its schema expects ("true" → True, "3" → 3)."""
    kind = schema.get("type")
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    if kind == "integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind == "number" and re.fullmatch(r"-?\d+(\.\d+)?", value):
        return float(value)
    return value


def _declared_properties(name: str, schema: Any) -> tuple[set[str], dict[str, Any]] | None:
    """Property names and sub-schemas an object schema declares; None if it is free-form."""
    schema = resolve(name, schema)
    if not isinstance(schema, dict):
        return None
    names: set[str] = set()
    subs: dict[str, Any] = {}
    declared = False
    if "properties" in schema:
        declared = True
        names |= set(schema["properties"])
        subs.update(schema["properties"])
    for combinator in ("allOf", "anyOf", "oneOf"):
        for branch in schema.get(combinator, []):
            found = _declared_properties(name, branch)
            if found is not None:
                declared = True
                names |= found[0]
                subs.update(found[1])
    extra = schema.get("additionalProperties")
    if extra is True or isinstance(extra, dict):
        return None
    return (names, subs) if declared else None


def undeclared_members(name: str, value: Any, schema: Any, where: str = "") -> list[str]:
    """Body members the schema does not declare (JSON Schema alone lets them through)."""
    schema = resolve(name, schema)
    if isinstance(value, list) and isinstance(schema, dict) and "items" in schema:
        inner = where.rstrip(".") + "[]."
        return [m for v in value for m in undeclared_members(name, v, schema["items"], inner)]
    if not isinstance(value, dict):
        return []
    found = _declared_properties(name, schema)
    if found is None:
        return []
    names, subs = found
    missing = [f"{where}{key}" for key in value if key not in names]
    for key, sub in value.items():
        if key in names:
            missing += undeclared_members(name, sub, subs[key], f"{where}{key}.")
    return missing


def check_request(action: Action, data: dict[str, Any]) -> None:
    """``data`` validates and its request matches the operation of ``action`` in the spec."""
    model = action.input.model_validate(data)
    parts = build_request(model)
    op = operation(action)

    template = set(re.findall(r"{(\w+)}", action.path))
    assert set(parts.path_params) == template, f"{action.key}: path parameters"
    declared_path = parameters(action, "path")
    for key, value in parts.path_params.items():
        assert key in declared_path, f"{action.key}: path parameter {key} not declared"
        schema = declared_path[key].get("schema", {})
        errors = list(validator(action.spec, schema).iter_errors(_typed(unquote(value), schema)))
        assert not errors, f"{action.key}: path {key}={value!r}: {errors[0].message}"

    declared_query = parameters(action, "query")
    for key, value in parts.query.items():
        assert key in declared_query, f"{action.key}: query parameter {key!r} is not declared"
        schema = declared_query[key].get("schema", {})
        errors = list(validator(action.spec, schema).iter_errors(_typed(value, schema)))
        assert not errors, f"{action.key}: query {key}={value!r}: {errors[0].message}"

    body_spec = resolve(action.spec, op.get("requestBody"))
    if parts.body is None:
        required = bool(body_spec and body_spec.get("required"))
        assert not required, f"{action.key}: the operation requires a body"
        return
    assert body_spec is not None, f"{action.key}: sends a body the operation does not take"
    schema = body_spec["content"]["application/json"]["schema"]
    errors = sorted(validator(action.spec, schema).iter_errors(parts.body), key=str)
    assert not errors, f"{action.key}: body {list(errors[0].absolute_path)}: {errors[0].message}"
    extra = undeclared_members(action.spec, parts.body, schema)
    assert not extra, f"{action.key}: body members not in the spec: {extra}"


# -- tests -------------------------------------------------------------------------------


def test_catalog_has_the_25_actions() -> None:
    """Every one of the 25 action keys is in the catalog, and nothing else."""
    assert sorted(CATALOG) == sorted(ACTION_KEYS)
    assert len(ACTION_KEYS) == 25


def test_every_spec_action_has_examples() -> None:
    """The example tables cover every catalog action except rawRequest."""
    assert sorted(FULL) == SPEC_ACTIONS
    assert sorted(MINIMAL) == SPEC_ACTIONS


@pytest.mark.parametrize("key", SPEC_ACTIONS)
def test_full_examples_set_every_field(key: str) -> None:
    """Together, an action's full examples set every field that reaches the request."""
    action = CATALOG[key]
    placed = {
        name
        for name, info in action.input.model_fields.items()
        if any(isinstance(m, InPath | InQuery | InBody) for m in info.metadata)
    }
    seen: set[str] = set()
    for data in FULL[key]:
        seen |= action.input.model_validate(data).model_fields_set
    assert placed - seen == set()


@pytest.mark.parametrize(
    ("key", "index"), [(key, i) for key in SPEC_ACTIONS for i in range(len(FULL[key]))]
)
def test_full_input_matches_spec(key: str, index: int) -> None:
    """A request with every field set uses only declared parameters and a valid body."""
    check_request(CATALOG[key], FULL[key][index])


@pytest.mark.parametrize("key", SPEC_ACTIONS)
def test_minimal_input_matches_spec(key: str) -> None:
    """A request with only the required fields is a valid request too."""
    check_request(CATALOG[key], MINIMAL[key])


@pytest.mark.parametrize("key", SPEC_ACTIONS)
def test_minimal_input_is_minimal(key: str) -> None:
    """Leaving out any field of the minimal input is a validation error."""
    action = CATALOG[key]
    for field in MINIMAL[key]:
        data = {k: v for k, v in MINIMAL[key].items() if k != field}
        with pytest.raises(ValidationError):
            action.input.model_validate(data)


@pytest.mark.parametrize("key", SPEC_ACTIONS)
def test_success_status_is_declared(key: str) -> None:
    """The status the catalog expects is one the operation documents."""
    action = CATALOG[key]
    assert str(action.success) in operation(action)["responses"]


@pytest.mark.parametrize("key", [k for k in SPEC_ACTIONS if CATALOG[k].is_list])
def test_page_size_within_spec(key: str) -> None:
    """List actions page with a declared page_size no larger than the spec's maximum."""
    action = CATALOG[key]
    declared = parameters(action, "query")
    assert "page_size" in declared
    maximum = declared["page_size"].get("schema", {}).get("maximum")
    assert action.page_size is not None
    if maximum is not None:
        assert action.page_size <= maximum
