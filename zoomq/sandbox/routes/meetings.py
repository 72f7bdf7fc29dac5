"""Meetings: list and create per user; get, update, delete; invitation; registrants."""

from __future__ import annotations

import re
from typing import Any

from zoomq.sandbox.api import Call, Operation, Reply, body_object
from zoomq.sandbox.checks import FieldErrors, choice, date_param, email_ok
from zoomq.sandbox.objects import meeting_invitation, meeting_object, occurrences, registrant_object
from zoomq.sandbox.pagination import paginate
from zoomq.sandbox.ratelimits import Category
from zoomq.sandbox.responses import ZoomHTTPError, validation_failed
from zoomq.sandbox.times import iso, parse_datetime

__all__ = [
    "OPERATIONS",
    "check_capacity",
    "event_object",
    "new_registrant",
    "occurrence_subset",
    "registrant_fields",
]

_PASSWORD = re.compile(r"^[A-Za-z0-9@\-_*]{1,10}$")
_MEETING_TYPES = (1, 2, 3, 8)
#: Settings Zoom returns for a meeting (others sent by a client are ignored, as Zoom does).
_SETTING_KEYS = frozenset(
    [
        "allow_multiple_devices",
        "alternative_hosts",
        "alternative_hosts_email_notification",
        "alternative_host_update_polls",
        "approval_type",
        "approved_or_denied_countries_or_regions",
        "audio",
        "audio_conference_info",
        "authentication_domains",
        "authentication_exception",
        "authentication_name",
        "authentication_option",
        "auto_recording",
        "breakout_room",
        "calendar_type",
        "close_registration",
        "cn_meeting",
        "contact_email",
        "contact_name",
        "custom_keys",
        "email_notification",
        "encryption_type",
        "enforce_login",
        "enforce_login_domains",
        "focus_mode",
        "global_dial_in_countries",
        "global_dial_in_numbers",
        "host_video",
        "in_meeting",
        "jbh_time",
        "join_before_host",
        "language_interpretation",
        "sign_language_interpretation",
        "meeting_authentication",
        "mute_upon_entry",
        "participant_video",
        "private_meeting",
        "registrants_confirmation_email",
        "registrants_email_notification",
        "registration_type",
        "show_share_button",
        "use_pmi",
        "waiting_room",
        "watermark",
        "host_save_video_order",
        "internal_meeting",
        "continuous_meeting_chat",
        "participant_focused_meeting",
        "push_change_to_calendar",
        "resources",
    ]
)
_SETTING_ENUMS: dict[str, tuple[Any, ...]] = {
    "approval_type": (0, 1, 2),
    "registration_type": (1, 2, 3),
    "audio": ("both", "telephony", "voip", "thirdParty"),
    "auto_recording": ("local", "cloud", "none"),
    "jbh_time": (0, 5, 10),
    "encryption_type": ("enhanced_encryption", "e2ee"),
    "calendar_type": (1, 2),
}
_EVENT_KEYS = ("uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone")
_REGISTRANT_STRINGS = (
    "address",
    "city",
    "country",
    "zip",
    "state",
    "phone",
    "industry",
    "org",
    "job_title",
    "purchasing_time_frame",
    "role_in_purchase_process",
    "no_of_employees",
    "comments",
)


def event_object(obj: dict[str, Any]) -> dict[str, Any]:
    """The ``payload.object`` of a meeting or webinar event."""
    return {k: obj[k] for k in _EVENT_KEYS if k in obj}


def _meeting_changes(body: dict[str, Any]) -> dict[str, Any]:
    """The checked fields of a create/update body (400 code 300 naming bad ones)."""
    errors = FieldErrors()
    changes = _scalar_changes(body, errors)
    changes.update(_structured_changes(body, errors))
    errors.raise_if_any()
    return changes


def _scalar_changes(body: dict[str, Any], errors: FieldErrors) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name, max_length in (("topic", 200), ("agenda", 2000), ("timezone", 64)):
        value = errors.string(body, name, max_length=max_length)
        if value is not None:
            changes[name] = value
    password = errors.string(body, "password", max_length=10)
    if password is not None:
        if password and not _PASSWORD.match(password):
            errors.add("password")
        changes["password"] = password
    meeting_type = errors.integer(body, "type", allowed=_MEETING_TYPES)
    if meeting_type is not None:
        changes["type"] = meeting_type
    duration = errors.integer(body, "duration")
    if duration is not None:
        if duration < 0:
            errors.add("duration")
        changes["duration"] = duration
    start = errors.string(body, "start_time")
    if start:
        try:
            changes["start_time"] = parse_datetime(start)
        except ValueError:
            errors.add("start_time")
    pre_schedule = errors.boolean(body, "pre_schedule")
    if pre_schedule is not None:
        changes["pre_schedule"] = pre_schedule
    return changes


def _structured_changes(body: dict[str, Any], errors: FieldErrors) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    recurrence = body.get("recurrence")
    if recurrence is not None:
        if not isinstance(recurrence, dict) or recurrence.get("type") not in (1, 2, 3):
            errors.add("recurrence.type")
        else:
            changes["recurrence"] = dict(recurrence)
    settings = body.get("settings")
    if isinstance(settings, dict):
        kept = {k: v for k, v in settings.items() if k in _SETTING_KEYS}
        for key, allowed in _SETTING_ENUMS.items():
            if key in kept and kept[key] not in allowed:
                errors.add(f"settings.{key}")
        changes["settings"] = kept
    elif settings is not None:
        errors.add("settings")
    tracking = body.get("tracking_fields")
    if isinstance(tracking, list) and all(isinstance(t, dict) for t in tracking):
        changes["tracking_fields"] = [
            {"field": str(t.get("field", "")), "value": str(t.get("value", ""))} for t in tracking
        ]
    elif tracking is not None:
        errors.add("tracking_fields")
    return changes


def list_meetings(call: Call) -> Reply:
    store = call.store
    user = store.user(call.params["userId"])
    kinds = ("scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings")
    kind = choice(call.query, "type", kinds, "scheduled")
    first, last = date_param(call.query, "from"), date_param(call.query, "to")
    now = iso(call.account.clock.time())
    items = []
    for meeting in store.meetings_of(user["id"]):
        start = meeting.get("start_time")
        if kind == "live" and meeting["status"] != "started":
            continue
        if kind in ("upcoming", "upcoming_meetings") and (start is None or start < now):
            continue
        if kind == "previous_meetings" and (start is None or start >= now):
            continue
        if first and (start is None or start[:10] < first.isoformat()):
            continue
        if last and (start is None or start[:10] > last.isoformat()):
            continue
        items.append(store.meeting_items[meeting["id"]])
    page = paginate(
        call.account.pages,
        call.query,
        items,
        scope=f"meetings|{user['id']}|{kind}|{first}|{last}",
    )
    fields = page.fields(
        "page_count", "page_number", "page_size", "total_records", "next_page_token"
    )
    return 200, {**fields, "meetings": page.items}


def create_meeting(call: Call) -> Reply:
    state, store = call.account, call.store
    host = store.user(call.params["userId"])
    state.limiter.count_meeting_write(host["id"])
    fields = _meeting_changes(body_object(call))
    now = state.clock.time()
    meeting_type = fields.get("type", 2)
    meeting = meeting_object(
        state.ids,
        base_url=store.base_url,
        host=host,
        topic=fields.get("topic") or f"{host['display_name']}'s Zoom Meeting",
        meeting_type=meeting_type,
        start_time=fields.get("start_time", now),
        duration=fields.get("duration", 60),
        timezone=fields.get("timezone") or host["timezone"],
        created_at=now,
        agenda=fields.get("agenda", ""),
        password=fields.get("password"),
        settings=fields.get("settings"),
        recurrence=fields.get("recurrence"),
    )
    if "tracking_fields" in fields:
        meeting["tracking_fields"] = fields["tracking_fields"]
    meeting["pre_schedule"] = fields.get("pre_schedule", False)
    store.add_meeting(meeting)
    state.emit("meeting.created", event_object(meeting))
    return 201, meeting


def _occurrence(meeting: dict[str, Any], occurrence_id: str) -> dict[str, Any]:
    for occurrence in meeting.get("occurrences", ()):
        if occurrence["occurrence_id"] == occurrence_id:
            return occurrence  # type: ignore[no-any-return]
    raise ZoomHTTPError(400, 300, f"Invalid occurrence_id: {occurrence_id}")


def get_meeting(call: Call) -> Reply:
    meeting = call.store.meeting(call.params["meetingId"])
    occurrence_id = call.query.get("occurrence_id")
    if occurrence_id:
        occurrence = _occurrence(meeting, occurrence_id)
        return 200, {
            **meeting,
            "start_time": occurrence["start_time"],
            "duration": occurrence["duration"],
        }
    return 200, meeting


def update_meeting(call: Call) -> Reply:
    state, store = call.account, call.store
    meeting = store.meeting(call.params["meetingId"])
    state.limiter.count_meeting_write(meeting["host_id"])
    changes = _meeting_changes(body_object(call))
    occurrence_id = call.query.get("occurrence_id")
    if occurrence_id:
        occurrence = _occurrence(meeting, occurrence_id)
        if "start_time" in changes:
            occurrence["start_time"] = iso(changes["start_time"])
        if "duration" in changes:
            occurrence["duration"] = changes["duration"]
    else:
        _apply(meeting, changes)
    store.refresh_meeting(meeting)
    shown = {k: (iso(v) if k == "start_time" else v) for k, v in changes.items()}
    payload = {"id": meeting["id"], "uuid": meeting["uuid"], "host_id": meeting["host_id"]}
    state.emit("meeting.updated", {**payload, **shown})
    return 204, None


def _apply(meeting: dict[str, Any], changes: dict[str, Any]) -> None:
    for key in ("topic", "agenda", "timezone", "password", "duration", "pre_schedule"):
        if key in changes:
            meeting[key] = changes[key]
    if "tracking_fields" in changes:
        meeting["tracking_fields"] = changes["tracking_fields"]
    if "settings" in changes:
        meeting["settings"].update(changes["settings"])
    if "type" in changes:
        meeting["type"] = changes["type"]
    if "start_time" in changes and meeting["type"] != 3:
        meeting["start_time"] = iso(changes["start_time"])
    if meeting["type"] == 3:
        meeting.pop("start_time", None)
    if meeting["type"] == 8:
        rule = changes.get("recurrence") or meeting.get("recurrence") or {"type": 1}
        meeting["recurrence"] = rule
        start = parse_datetime(meeting.get("start_time") or meeting["created_at"])
        meeting["start_time"] = iso(start)
        meeting["occurrences"] = occurrences(start, meeting["duration"], rule)
    else:
        meeting.pop("recurrence", None)
        meeting.pop("occurrences", None)


def delete_meeting(call: Call) -> Reply:
    state, store = call.account, call.store
    meeting = store.meeting(call.params["meetingId"])
    occurrence_id = call.query.get("occurrence_id")
    if occurrence_id:
        occurrence = _occurrence(meeting, occurrence_id)
        meeting["occurrences"].remove(occurrence)
        state.emit("meeting.updated", {**event_object(meeting), "occurrences": [occurrence]})
        return 204, None
    store.remove_meeting(meeting["id"])
    state.emit("meeting.deleted", event_object(meeting))
    return 204, None


def get_invitation(call: Call) -> Reply:
    store = call.store
    meeting = store.meeting(call.params["meetingId"])
    host = store.users.get(meeting["host_id"])
    host_name = host["display_name"] if host else meeting["host_email"]
    return 200, meeting_invitation(meeting, host_name)


def registrant_fields(body: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    """Email, first and last name, and the optional fields of a registrant body."""
    errors = FieldErrors()
    email = body.get("email")
    if email is None:
        errors.add("email", "This field is required.")
    elif not email_ok(email):
        errors.add("email")
    first = errors.string(body, "first_name", max_length=64, required=True)
    last = errors.string(body, "last_name", max_length=64) or ""
    extra = {}
    for name in _REGISTRANT_STRINGS:
        value = errors.string(body, name, max_length=256)
        if value is not None:
            extra[name] = value
    errors.raise_if_any()
    assert isinstance(email, str)
    assert first is not None
    return email, first, last, extra


def occurrence_subset(event: dict[str, Any], occurrence_ids: str | None) -> list[dict[str, Any]]:
    """The occurrences a registrant signed up for (all of them when none are named)."""
    found = event.get("occurrences", [])
    if not occurrence_ids:
        return list(found)
    wanted = set(occurrence_ids.split(","))
    chosen = [o for o in found if o["occurrence_id"] in wanted]
    if len(chosen) != len(wanted):
        raise validation_failed(("occurrence_ids", "Invalid field."))
    return chosen


def list_registrants(call: Call) -> Reply:
    store = call.store
    meeting = store.meeting(call.params["meetingId"])
    status = choice(call.query, "status", ("pending", "approved", "denied"), "approved")
    registrants = store.meeting_registrants.get(meeting["id"], {})
    items = [r for r in registrants.values() if r["status"] == status]
    page = paginate(
        call.account.pages, call.query, items, scope=f"registrants|{meeting['id']}|{status}"
    )
    fields = page.fields(
        "page_count", "page_number", "page_size", "total_records", "next_page_token"
    )
    return 200, {**fields, "registrants": page.items}


def register(
    call: Call,
    event: dict[str, Any],
    registrants: dict[str, dict[str, Any]],
    *,
    webinar: bool,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Add a registrant to a meeting or webinar (once per email) and emit its event.

    Returns the registrant and the occurrences chosen by ``occurrence_ids``. One email
    may be added to one meeting or webinar ``registrant_daily_cap`` times a UTC day
    (Zoom's 3), an existing registrant returned included.
    """
    account, store = call.account, call.store
    email, first, last, extra = registrant_fields(body_object(call))
    chosen = occurrence_subset(event, call.query.get("occurrence_ids"))
    kind = "webinar" if webinar else "meeting"
    account.limiter.count_registrants(kind, event["id"], (email,))
    registrant = store.registrant_by_email(event["id"], email, webinar=webinar)
    if registrant is None:  # Zoom answers a repeated registration with the same registrant
        check_capacity(call, registrants, 1, webinar=webinar)
        approval = event["settings"].get("approval_type", 0)
        registrant = new_registrant(
            call,
            event,
            email=email,
            first_name=first,
            last_name=last,
            status="pending" if approval == 1 else "approved",
            webinar=webinar,
            extra=extra,
        )
    return registrant, chosen


def check_capacity(
    call: Call, registrants: dict[str, dict[str, Any]], adding: int, *, webinar: bool
) -> None:
    """Zoom's 3043 once a meeting or webinar holds ``registrant_capacity`` registrants."""
    cap = call.account.config.registrant_capacity
    if cap is not None and len(registrants) + adding > cap:
        kind = "Webinar" if webinar else "Meeting"
        raise ZoomHTTPError(404, 3043, f"{kind} has reached maximum attendee capacity.")


def new_registrant(
    call: Call,
    event: dict[str, Any],
    *,
    email: str,
    first_name: str,
    last_name: str,
    status: str,
    webinar: bool,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Store a new registrant of ``event`` and emit ``*.registration_created``."""
    account, store = call.account, call.store
    registrant = registrant_object(
        account.ids,
        base_url=store.base_url,
        event_id=event["id"],
        email=email,
        first_name=first_name,
        last_name=last_name,
        status=status,
        created_at=account.clock.time(),
        webinar=webinar,
        extra=extra,
    )
    store.add_registrant(event["id"], registrant, webinar=webinar)
    kind = "webinar" if webinar else "meeting"
    account.emit(
        f"{kind}.registration_created", {**event_object(event), "registrant": dict(registrant)}
    )
    return registrant


def add_registrant(call: Call) -> Reply:
    meeting = call.store.meeting(call.params["meetingId"])
    registrants = call.store.meeting_registrants.setdefault(meeting["id"], {})
    registrant, chosen = register(call, meeting, registrants, webinar=False)
    body: dict[str, Any] = {
        "id": meeting["id"],
        "registrant_id": registrant["id"],
        "join_url": registrant["join_url"],
        "topic": meeting["topic"],
        "occurrences": chosen,
        "participant_pin_code": registrant["participant_pin_code"],
    }
    if "start_time" in meeting:
        body["start_time"] = meeting["start_time"]
    return 201, body


L, M = Category.LIGHT, Category.MEDIUM
OPERATIONS = (
    Operation("GET", "/users/{userId}/meetings", M, list_meetings),
    Operation("POST", "/users/{userId}/meetings", M, create_meeting),
    Operation("GET", "/meetings/{meetingId}/invitation", L, get_invitation),
    Operation("GET", "/meetings/{meetingId}/registrants", M, list_registrants),
    Operation("POST", "/meetings/{meetingId}/registrants", L, add_registrant),
    Operation("GET", "/meetings/{meetingId}", L, get_meeting),
    Operation("PATCH", "/meetings/{meetingId}", L, update_meeting),
    Operation("DELETE", "/meetings/{meetingId}", L, delete_meeting),
)
