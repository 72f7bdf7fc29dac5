"""Team Chat: a user's channels, and messages with a contact or in a channel."""

from __future__ import annotations

from zoomq.sandbox.api import Call, Operation, Reply
from zoomq.sandbox.checks import date_param, datetime_param
from zoomq.sandbox.pagination import paginate
from zoomq.sandbox.ratelimits import Category
from zoomq.sandbox.responses import ZoomHTTPError, user_not_found
from zoomq.sandbox.times import DAY, date_start, iso, utc_date

__all__ = ["OPERATIONS"]


def list_channels(call: Call) -> Reply:
    store = call.store
    user = store.user(call.params["userId"])
    items = [store.channels[c] for c in store.user_channels.get(user["id"], ())]
    page = paginate(
        call.account.pages,
        call.query,
        items,
        scope=f"channels|{user['id']}",
        default=10,
        maximum=1000,
    )
    fields = page.fields("total_records", "page_size", "next_page_token")
    return 200, {**fields, "channels": page.items}


def list_messages(call: Call) -> Reply:
    state, store, query = call.account, call.store, call.query
    user = store.user(call.params["userId"])
    to_contact, to_channel = query.get("to_contact"), query.get("to_channel")
    if to_channel:
        if to_channel not in store.channels:
            raise ZoomHTTPError(404, 4130, f"Channel does not exist: {to_channel}")
        messages = store.channel_messages.get(to_channel, [])
    elif to_contact:
        contact = store.find_user(to_contact)
        if contact is None:
            raise user_not_found(to_contact)
        messages = store.contact_messages.get(store.pair(user["id"], contact["id"]), [])
    else:
        raise ZoomHTTPError(400, 300, "Either to_contact or to_channel is required.")
    # ``date`` wins over from/to; with neither, today (UTC).
    day = date_param(query, "date")
    first, last = datetime_param(query, "from"), datetime_param(query, "to")
    window: dict[str, str] = {}
    if day is not None or first is None:
        day = day or utc_date(state.clock.time())
        low, high = date_start(day), date_start(day) + DAY - 0.001
        window["date"] = day.isoformat()
    else:
        low, high = first, last if last is not None else state.clock.time()
        window.update({"from": iso(low), "to": iso(high)})
    low_ms, high_ms = int(low * 1000), int(high * 1000)
    search = (query.get("search_key") or "").lower()
    items = [
        m
        for m in messages
        if low_ms <= m["timestamp"] <= high_ms and (not search or search in m["message"].lower())
    ]
    page = paginate(
        state.pages,
        query,
        items,
        scope=f"messages|{user['id']}|{to_contact}|{to_channel}|{low_ms}|{high_ms}|{search}",
        default=10,
        maximum=50,
    )
    return 200, {**window, **page.fields("page_size", "next_page_token"), "messages": page.items}


M = Category.MEDIUM
OPERATIONS = (
    Operation("GET", "/chat/users/{userId}/channels", M, list_channels),
    Operation("GET", "/chat/users/{userId}/messages", M, list_messages),
)
