"""Batch registration: up to 30 registrants per call to a meeting or webinar (Heavy).

``POST /meetings/{meetingId}/batch_registrants`` and
``POST /webinars/{webinarId}/batch_registrants``, with the prerequisites Zoom's spec
lists (``zoom-openapi/meetings.json``, operations addBatchRegistrants and
addBatchWebinarRegistrants): a Licensed host, registration required, a scheduled
meeting (type 2) or webinar (type 5) that is not over. The whole batch is checked
first and refused as a whole (a bad email, a 31st registrant, an email over its daily
cap): nothing of a refused batch is stored or counted. An email already registered
(case-insensitive, also twice in one batch) gets the existing registrant back.
"""

from __future__ import annotations

from typing import Any

from zoomq.sandbox.api import Call, Operation, Reply, body_object
from zoomq.sandbox.checks import FieldErrors, email_ok
from zoomq.sandbox.ratelimits import Category
from zoomq.sandbox.responses import ZoomHTTPError
from zoomq.sandbox.routes.meetings import check_capacity, new_registrant
from zoomq.sandbox.times import parse_datetime

__all__ = ["MAX_BATCH", "OPERATIONS", "batch_meeting_registrants", "batch_webinar_registrants"]

#: Registrants one batch call may carry.
MAX_BATCH = 30

_Registrant = tuple[str, str, str]  # email, first name, last name


def _batch(body: dict[str, Any], *, meeting: bool) -> tuple[list[_Registrant], bool]:
    """The registrants of a batch body and ``auto_approve``; 400 code 300 naming bad fields."""
    errors = FieldErrors()
    auto_approve = errors.boolean(body, "auto_approve")
    if meeting:
        errors.boolean(body, "registrants_confirmation_email")
    items = body.get("registrants")
    if items is None:
        errors.add("registrants", "This field is required.")
    elif not isinstance(items, list) or not items:
        errors.add("registrants")
    elif len(items) > MAX_BATCH:
        errors.add("registrants", f"A maximum of {MAX_BATCH} registrants can be added at once.")
    found: list[_Registrant] = []
    for n, item in enumerate(items if isinstance(items, list) else ()):
        prefix = f"registrants[{n}]."
        if not isinstance(item, dict):
            errors.add(f"registrants[{n}]")
            continue
        email = item.get("email")
        if email is None:
            errors.add(prefix + "email", "This field is required.")
        elif not email_ok(email):
            errors.add(prefix + "email")
        first = errors.string(item, "first_name", prefix=prefix, max_length=64, required=True)
        last = errors.string(item, "last_name", prefix=prefix, max_length=64) or ""
        if isinstance(email, str) and first is not None:
            found.append((email, first, last))
    errors.raise_if_any()
    return found, bool(auto_approve)


def _not_over(call: Call, event: dict[str, Any], kind: str) -> None:
    start = event.get("start_time")
    if start is None:
        return
    end = parse_datetime(start) + 60 * int(event.get("duration") or 0)
    if end < call.account.clock.time():
        if kind == "Meeting":
            message = (
                "Meeting is over, you can not register now. If you have any questions, "
                "please contact the Meeting host."
            )
        else:
            message = (
                "The webinar is over. You cannot register now. If you have any questions, "
                "contact the Webinar host."
            )
        raise ZoomHTTPError(400, 3038, message)


def _register_all(
    call: Call,
    event: dict[str, Any],
    batch: list[_Registrant],
    auto_approve: bool,
    *,
    webinar: bool,
) -> list[dict[str, Any]]:
    """Each registrant of ``batch``, new or existing, in the order given."""
    store = call.store
    event_id = event["id"]
    call.account.limiter.count_registrants(
        "webinar_batch" if webinar else "meeting_batch", event_id, (e for e, _, _ in batch)
    )
    registrants = store.registrants_of(event_id, webinar=webinar)
    new = {email.lower() for email, _, _ in batch}
    new = {e for e in new if store.registrant_by_email(event_id, e, webinar=webinar) is None}
    check_capacity(call, registrants, len(new), webinar=webinar)
    manual = event["settings"].get("approval_type") == 1 and not auto_approve
    shown: list[dict[str, Any]] = []
    for email, first, last in batch:
        registrant = store.registrant_by_email(event_id, email, webinar=webinar)
        if registrant is None:
            registrant = new_registrant(
                call,
                event,
                email=email,
                first_name=first,
                last_name=last,
                status="pending" if manual else "approved",
                webinar=webinar,
            )
        item: dict[str, Any] = {
            "email": registrant["email"],
            "join_url": registrant["join_url"],
            "registrant_id": registrant["id"],
        }
        if not webinar:
            item["participant_pin_code"] = registrant["participant_pin_code"]
        shown.append(item)
    return shown


def batch_meeting_registrants(call: Call) -> Reply:
    """addBatchRegistrants: 201 ``{"registrants": [{email, join_url, registrant_id, ...}]}``."""
    store = call.store
    meeting = store.meeting(call.params["meetingId"])
    if meeting["type"] != 2:
        raise ZoomHTTPError(
            400,
            303,
            "This API can only be used for scheduled meeting(meeting type: 2). "
            "Batch registration is not supported for other meeting types.",
        )
    if meeting["settings"].get("approval_type", 2) not in (0, 1):
        raise ZoomHTTPError(
            404, 404, f"Registration has not been enabled for this meeting: {meeting['id']}."
        )
    host = store.users.get(meeting["host_id"])
    if host is None or host["type"] != 2:
        raise ZoomHTTPError(
            400,
            3161,
            "Meeting hosting and scheduling capabilities are not allowed for your user account.",
        )
    _not_over(call, meeting, "Meeting")
    batch, auto_approve = _batch(body_object(call), meeting=True)
    return 201, {"registrants": _register_all(call, meeting, batch, auto_approve, webinar=False)}


def batch_webinar_registrants(call: Call) -> Reply:
    """addBatchWebinarRegistrants: 201 ``{"registrants": [{email, join_url, registrant_id}]}``."""
    store = call.store
    webinar = store.webinar(call.path_id("webinarId"))
    if webinar["type"] != 5:
        raise ZoomHTTPError(
            400,
            300,
            "This API can only be used for scheduled webinars (type 5). "
            "Batch registration is not supported for other webinar types.",
        )
    if webinar["settings"].get("approval_type", 2) not in (0, 1):
        message = f"Registration not enabled for this webinar: {webinar['id']}"
        raise ZoomHTTPError(400, 3000, message)
    host = store.users.get(webinar["host_id"])
    if host is None or host["type"] != 2:
        raise ZoomHTTPError(
            400,
            200,
            "Webinar plan is missing. You must subscribe to the Webinar plan and enable "
            f'webinars for the "{webinar["host_email"]}" user to perform this action.',
        )
    _not_over(call, webinar, "Webinar")
    batch, auto_approve = _batch(body_object(call), meeting=False)
    return 201, {"registrants": _register_all(call, webinar, batch, auto_approve, webinar=True)}


_HEAVY = Category.HEAVY
OPERATIONS = (
    Operation("POST", "/meetings/{meetingId}/batch_registrants", _HEAVY, batch_meeting_registrants),
    Operation("POST", "/webinars/{webinarId}/batch_registrants", _HEAVY, batch_webinar_registrants),
)
