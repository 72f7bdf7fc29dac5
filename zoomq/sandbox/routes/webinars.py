"""Webinars: list per user, get, registrants (list, add), past webinar participants."""

from __future__ import annotations

from typing import Any

from zoomq.sandbox.api import Call, Operation, Reply
from zoomq.sandbox.checks import choice
from zoomq.sandbox.pagination import paginate
from zoomq.sandbox.ratelimits import Category
from zoomq.sandbox.responses import webinar_not_found
from zoomq.sandbox.routes.meetings import register
from zoomq.sandbox.times import iso

__all__ = ["OPERATIONS"]

_PAGING = ("page_count", "page_number", "page_size", "total_records", "next_page_token")


def list_webinars(call: Call) -> Reply:
    store = call.store
    user = store.user(call.params["userId"])
    kind = choice(call.query, "type", ("scheduled", "upcoming"), "scheduled")
    now = iso(call.account.clock.time())
    items = [
        store.webinar_items[w]
        for w in store.user_webinars.get(user["id"], {})
        if kind == "scheduled" or store.webinars[w]["start_time"] >= now
    ]
    page = paginate(call.account.pages, call.query, items, scope=f"webinars|{user['id']}|{kind}")
    return 200, {**page.fields(*_PAGING), "webinars": page.items}


def get_webinar(call: Call) -> Reply:
    return 200, call.store.webinar(call.path_id("webinarId"))


def list_registrants(call: Call) -> Reply:
    store = call.store
    webinar = store.webinar(call.path_id("webinarId"))
    status = choice(call.query, "status", ("pending", "approved", "denied"), "approved")
    registrants = store.webinar_registrants.get(webinar["id"], {})
    items = [r for r in registrants.values() if r["status"] == status]
    page = paginate(
        call.account.pages, call.query, items, scope=f"webinar-registrants|{webinar['id']}|{status}"
    )
    return 200, {**page.fields(*_PAGING), "registrants": page.items}


def add_registrant(call: Call) -> Reply:
    webinar = call.store.webinar(call.path_id("webinarId"))
    registrants = call.store.webinar_registrants.setdefault(webinar["id"], {})
    registrant, chosen = register(call, webinar, registrants, webinar=True)
    body: dict[str, Any] = {
        "id": webinar["id"],
        "registrant_id": registrant["id"],
        "join_url": registrant["join_url"],
        "topic": webinar["topic"],
        "start_time": webinar["start_time"],
        "occurrences": chosen,
    }
    return 201, body


def list_participants(call: Call) -> Reply:
    store = call.store
    key = call.uuid_id("webinarId", "past_webinars", "participants")
    if key is None:
        raise webinar_not_found(call.params["webinarId"])
    webinar = store.webinar(key)
    items = store.webinar_participants.get(webinar["id"], [])
    page = paginate(call.account.pages, call.query, items, scope=f"participants|{webinar['id']}")
    fields = page.fields("page_count", "page_size", "total_records", "next_page_token")
    return 200, {**fields, "participants": page.items}


L, M = Category.LIGHT, Category.MEDIUM
OPERATIONS = (
    Operation("GET", "/users/{userId}/webinars", M, list_webinars),
    Operation("GET", "/webinars/{webinarId}/registrants", M, list_registrants),
    Operation("POST", "/webinars/{webinarId}/registrants", L, add_registrant),
    Operation("GET", "/webinars/{webinarId}", L, get_webinar),
    Operation("GET", "/past_webinars/{webinarId:path}/participants", M, list_participants),
)
