"""Zoom Phone call recordings: the account's and one user's (default: the last 30 days)."""

from __future__ import annotations

from zoomq.sandbox.api import Call, Operation, Reply
from zoomq.sandbox.checks import datetime_param
from zoomq.sandbox.pagination import paginate
from zoomq.sandbox.ratelimits import Category
from zoomq.sandbox.responses import ZoomHTTPError
from zoomq.sandbox.times import DAY, iso

__all__ = ["OPERATIONS"]


def _window(call: Call) -> tuple[float, float]:
    """from/to (a date or a date-time); ``to`` is required with ``from``."""
    first, last = datetime_param(call.query, "from"), datetime_param(call.query, "to")
    now = call.account.clock.time()
    if first is None:
        return now - 30 * DAY, last if last is not None else now
    if last is None:
        raise ZoomHTTPError(400, 300, "The 'to' parameter is required when 'from' is given.")
    if len(call.query.get("to", "")) == 10:  # a bare date includes that whole day
        last += DAY - 1
    if last < first:
        raise ZoomHTTPError(400, 300, "The 'to' date must not be earlier than the 'from' date.")
    return first, last


def account_recordings(call: Call) -> Reply:
    low, high = _window(call)
    lo, hi = iso(low), iso(high)
    items = [r for r in call.store.phone_recordings if lo <= r["date_time"] <= hi]
    page = paginate(call.account.pages, call.query, items, scope=f"phone|{lo}|{hi}")
    fields = page.fields("next_page_token", "page_size", "total_records")
    return 200, {**fields, "recordings": page.items}


def user_recordings(call: Call) -> Reply:
    store = call.store
    user = store.user(call.params["userId"])
    low, high = _window(call)
    lo, hi = iso(low), iso(high)
    mine = store.user_phone_recordings.get(user["id"], [])
    items = [r for r in mine if lo <= r["date_time"] <= hi]
    page = paginate(call.account.pages, call.query, items, scope=f"phone|{user['id']}|{lo}|{hi}")
    fields = page.fields("page_count", "page_size", "total_records", "next_page_token")
    return 200, {"from": lo[:10], "to": hi[:10], **fields, "recordings": page.items}


M = Category.MEDIUM
OPERATIONS = (
    Operation("GET", "/phone/recordings", M, account_recordings, phone=True),
    Operation("GET", "/phone/users/{userId}/recordings", M, user_recordings, phone=True),
)
