"""Finding what an interrupted write already did in Zoom, where Zoom offers a way.

A worker killed while its POST was in flight leaves no done record, yet Zoom may have
acted. Before such a step is sent again (``idempotency.run_once`` with ``resume``),
``find_earlier`` looks for the earlier attempt's result. Only registrants can be found:
Zoom lists them per meeting or webinar with their email. Zoom documents no idempotency
key and no free field on a meeting (``tracking_fields`` are defined by the account
admin), so createMeeting and the other writes have no look-up and may repeat.

Zoom is reported to answer a repeated registration of the same email with the existing
registrant (devforum.zoom.us/t/57798; the sandbox does the same), so the look-up does
not stop a second registrant; it spares a second POST, which counts against Zoom's
3-per-day cap of registrations for one registrant (ZOOM_API.md §3), and whatever else
Zoom does on a repeated registration, which it does not document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from zoomq.actions.base import build_request
from zoomq.actions.catalog import CATALOG
from zoomq.actions.run import parse_input

if TYPE_CHECKING:
    from zoomq.client.http import ZoomClient

__all__ = ["LOOKUPS", "STATUSES", "Searched", "find_earlier"]


class Searched(Protocol):
    """Where earlier retries already searched in vain (``idempotency.Looked``, or a set)."""

    def __contains__(self, place: object, /) -> bool: ...

    def add(self, place: str, /) -> None: ...


#: Write action → (its list action, the input field naming the meeting or webinar).
LOOKUPS: dict[str, tuple[str, str]] = {
    "addMeetingRegistrant": ("listMeetingRegistrants", "meetingId"),
    "addWebinarRegistrant": ("listWebinarRegistrants", "webinarId"),
}
#: A registrant just added is approved (automatic approval) or pending (manual approval);
#: denied would need the host to act between the two attempts.
STATUSES = ("approved", "pending")


def find_earlier(
    client: ZoomClient,
    key: str,
    data: Mapping[str, Any],
    looked: Searched | None = None,
) -> dict[str, Any] | None:
    """The result an earlier attempt of action ``key`` produced, or None if none is found.

    For registrants: the one with the input's email, shaped like Zoom's 201 reply (``id``,
    ``registrant_id``, ``join_url``, ``participant_pin_code`` when listed; the list has
    no ``topic``, ``start_time`` or ``occurrences``). Stops at the first match. Statuses
    in ``looked`` are skipped, and each one searched in vain is added to it.
    """
    searched: Searched = set() if looked is None else looked
    lookup = LOOKUPS.get(key)
    if lookup is None:
        return None
    list_key, id_field = lookup
    model = parse_input(CATALOG[key], data)
    event_id = build_request(model).path_params[id_field]
    email = str(getattr(model, "email", "")).casefold()
    lister = CATALOG[list_key]
    assert lister.items_key is not None
    for status in STATUSES:
        if status in searched:
            continue
        parts = build_request(parse_input(lister, {id_field: event_id, "status": status}))
        pages = client.iter_pages(
            lister.path.format(**parts.path_params),
            params=parts.query,
            page_size=lister.page_size,
            category=lister.category,
        )
        for page in pages:
            for registrant in page.get(lister.items_key) or []:
                if isinstance(registrant, dict) and _email(registrant) == email:
                    return {"data": _as_added(event_id, registrant)}
        searched.add(status)
    return None


def _email(registrant: Mapping[str, Any]) -> str:
    value = registrant.get("email")
    return value.strip().casefold() if isinstance(value, str) else ""


def _as_added(event_id: str, registrant: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": int(event_id) if event_id.isdigit() else event_id,
        "registrant_id": registrant.get("id"),
        "join_url": registrant.get("join_url"),
    }
    if "participant_pin_code" in registrant:
        found["participant_pin_code"] = registrant["participant_pin_code"]
    return found
