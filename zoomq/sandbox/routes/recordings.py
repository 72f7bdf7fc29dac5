"""Cloud recordings: one meeting's (by id or UUID) and one user's (a from/to window), and
deleting a meeting's recordings (``action=trash``, the default, or ``delete``).

Meeting UUIDs that start with ``/`` or contain ``//`` must be double-encoded, as on
Zoom: the sandbox reads the raw path, so a singly encoded one is not found.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from zoomq.sandbox.api import Call, Operation, Reply
from zoomq.sandbox.checks import date_param
from zoomq.sandbox.pagination import paginate
from zoomq.sandbox.ratelimits import Category
from zoomq.sandbox.responses import ZoomHTTPError, no_recording, validation_failed
from zoomq.sandbox.times import add_month, utc_date

__all__ = ["OPERATIONS"]

_MAX_TTL = 604_800


def get_meeting_recordings(call: Call) -> Reply:
    store = call.store
    key = call.uuid_id("meetingId", "meetings", "recordings")
    if key is None:
        raise no_recording()
    recording = store.latest_recording(int(key)) if key.isdigit() else store.recordings.get(key)
    if recording is None:
        raise no_recording()
    body: dict[str, Any] = dict(recording)
    body["password"] = store.recording_passwords.get(recording["uuid"], "")
    if "download_access_token" in (call.query.get("include_fields") or "").split(","):
        raw_ttl = call.query.get("ttl")
        try:
            ttl = int(raw_ttl) if raw_ttl else None
        except ValueError:
            raise validation_failed(("ttl", "Invalid field.")) from None
        if ttl is not None and not 0 <= ttl <= _MAX_TTL:
            raise validation_failed(("ttl", "Invalid field."))
        body["download_access_token"] = call.account.issue_download_token(ttl or None)
    return 200, body


def delete_meeting_recordings(call: Call) -> Reply:
    """``DELETE /meetings/{id}/recordings``: the instance's files stop being downloadable.

    ``action=trash`` (Zoom's default) keeps it in ``store.trashed_recordings``; ``delete``
    drops it for good. Either way the next GET answers 3301.
    """
    state, store = call.account, call.store
    action = call.query.get("action") or "trash"
    if action not in ("trash", "delete"):
        raise validation_failed(("action", "Invalid field."))
    key = call.uuid_id("meetingId", "meetings", "recordings")
    if key is None:
        raise no_recording()
    recording = store.latest_recording(int(key)) if key.isdigit() else store.recordings.get(key)
    if recording is None:
        raise no_recording()
    uuid = recording["uuid"]
    del store.recordings[uuid]
    store.meeting_recordings[recording["id"]].remove(uuid)
    store.user_recordings[recording["host_id"]].remove(uuid)
    for item in recording.get("recording_files") or ():
        store.files.pop(str(item.get("id")), None)
    if action == "trash":
        store.trashed_recordings[uuid] = recording
    state.emit(
        "recording.trashed" if action == "trash" else "recording.deleted",
        {"uuid": uuid, "id": recording["id"], "host_id": recording["host_id"]},
    )
    return 204, None


def list_user_recordings(call: Call) -> Reply:
    state, store = call.account, call.store
    user = store.user(call.params["userId"])
    today = utc_date(state.clock.time())
    first = date_param(call.query, "from")
    last = date_param(call.query, "to")
    if first is None:
        first = today
        last = last or today + timedelta(days=1)
    elif last is None:
        last = max(today, first)
    if last < first:
        raise ZoomHTTPError(400, 300, "The 'to' date must not be earlier than the 'from' date.")
    if last > add_month(first):
        raise ZoomHTTPError(400, 300, "The date range can not be longer than one month.")
    low, high = first.isoformat(), last.isoformat()
    trash = (call.query.get("trash") or "false").lower() == "true"
    meeting_id = call.query.get("meeting_id")
    items = []
    if not trash:  # nothing is ever in the sandbox's trash
        for uuid in store.user_recordings.get(user["id"], ()):
            recording = store.recordings[uuid]
            day = recording["start_time"][:10]
            if low <= day <= high and (not meeting_id or str(recording["id"]) == meeting_id):
                items.append(recording)
    page = paginate(
        state.pages,
        call.query,
        items,
        scope=f"recordings|{user['id']}|{low}|{high}|{trash}|{meeting_id}",
    )
    fields = page.fields("page_count", "page_size", "total_records", "next_page_token")
    return 200, {"from": low, "to": high, **fields, "meetings": page.items}


L, M = Category.LIGHT, Category.MEDIUM
OPERATIONS = (
    Operation("GET", "/meetings/{meetingId:path}/recordings", L, get_meeting_recordings),
    Operation("DELETE", "/meetings/{meetingId:path}/recordings", L, delete_meeting_recordings),
    Operation("GET", "/users/{userId}/recordings", M, list_user_recordings),
)
