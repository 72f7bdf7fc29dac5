"""Users: list, create, get, update, delete (``userId`` may be an id, an email or ``me``)."""

from __future__ import annotations

from typing import Any

from zoomq.sandbox.api import Call, Operation, Reply, body_object
from zoomq.sandbox.checks import FieldErrors, choice, email_ok
from zoomq.sandbox.objects import user_object
from zoomq.sandbox.pagination import paginate
from zoomq.sandbox.ratelimits import Category
from zoomq.sandbox.responses import ZoomHTTPError, validation_failed

__all__ = ["OPERATIONS"]

_CREATE_ACTIONS = frozenset({"create", "autoCreate", "custCreate", "ssoCreate"})
_USER_TYPES = (1, 2, 4, 99)
_STRINGS = {
    "first_name": 64,
    "last_name": 64,
    "display_name": 128,
    "dept": 128,
    "timezone": 64,
    "job_title": 128,
    "company": 255,
    "location": 256,
    "language": 16,
    "phone_number": 32,
    "phone_country": 8,
    "cms_user_id": 64,
}


def _event_object(user: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "first_name", "last_name", "display_name", "email", "type")
    return {k: user[k] for k in keys}


def list_users(call: Call) -> Reply:
    status = choice(call.query, "status", ("active", "inactive", "pending"), "active")
    items = call.store.user_list(status)
    role_id = call.query.get("role_id")
    if role_id:
        items = [u for u in items if u.get("role_id") == role_id]
    page = paginate(
        call.account.pages,
        call.query,
        items,
        scope=f"users|{status}|{role_id}",
        default=30,
        maximum=2000,
    )
    fields = page.fields(
        "page_count", "page_number", "page_size", "total_records", "next_page_token"
    )
    return 200, {**fields, "users": page.items}


def create_user(call: Call) -> Reply:
    body = body_object(call)
    errors = FieldErrors()
    action = body.get("action")
    if action not in _CREATE_ACTIONS:
        errors.add("action")
    info = body.get("user_info")
    if not isinstance(info, dict):
        raise validation_failed(*errors.errors, ("user_info", "This field is required."))
    email = info.get("email")
    if not email_ok(email):
        errors.add("user_info.email")
    user_type = info.get("type")
    if user_type not in _USER_TYPES or isinstance(user_type, bool):
        errors.add("user_info.type")
    first = errors.string(info, "first_name", prefix="user_info.", max_length=64) or ""
    last = errors.string(info, "last_name", prefix="user_info.", max_length=64) or ""
    display = errors.string(info, "display_name", prefix="user_info.", max_length=128)
    errors.raise_if_any()
    assert isinstance(email, str)
    assert isinstance(user_type, int)
    store = call.store
    if email.lower() in store.emails:
        raise ZoomHTTPError(409, 1005, f"User already in the account: {email}")
    if action == "create":
        call.account.limiter.count_user_create(call.account.account_id)
    state = call.account
    user = user_object(
        state.ids,
        base_url=store.base_url,
        account_id=store.account_id,
        account_number=store.account_number,
        email=email,
        first_name=first,
        last_name=last,
        user_type=user_type,
        # ``create`` mails a confirmation link: the user stays pending until it is used.
        status="pending" if action == "create" else "active",
        role_id="2",
        created_at=state.clock.time(),
    )
    if display:
        user["display_name"] = display
    store.add_user(user)
    state.emit("user.created", _event_object(user))
    keys = ("id", "first_name", "last_name", "email", "type")
    return 201, {k: user[k] for k in keys}


def get_user(call: Call) -> Reply:
    return 200, call.store.user(call.params["userId"])


def update_user(call: Call) -> Reply:
    store = call.store
    user = store.user(call.params["userId"])
    body = body_object(call)
    errors = FieldErrors()
    changes: dict[str, Any] = {}
    for name, max_length in _STRINGS.items():
        value = errors.string(body, name, max_length=max_length)
        if value is not None:
            changes[name] = value
    user_type = errors.integer(body, "type", allowed=_USER_TYPES)
    if user_type is not None:
        changes["type"] = user_type
    pmi = errors.integer(body, "pmi")
    if pmi is not None:
        if not 1_000_000_000 <= pmi <= 9_999_999_999:
            errors.add("pmi")
        changes["pmi"] = pmi
    use_pmi = errors.boolean(body, "use_pmi")
    if use_pmi is not None:
        changes["use_pmi"] = use_pmi
    errors.raise_if_any()
    user.update(changes)
    store.refresh_user(user)
    if changes:
        call.account.emit("user.updated", {"id": user["id"], **changes})
    return 204, None


def delete_user(call: Call) -> Reply:
    store = call.store
    action = choice(call.query, "action", ("disassociate", "delete"), "disassociate")
    user = store.user(call.params["userId"])
    if user["id"] == store.owner_id:
        raise ZoomHTTPError(400, 300, "The account owner cannot be deleted.")
    store.remove_user(user["id"])
    event = "user.deleted" if action == "delete" else "user.disassociated"
    call.account.emit(event, _event_object(user))
    return 204, None


L, M = Category.LIGHT, Category.MEDIUM
OPERATIONS = (
    Operation("GET", "/users", M, list_users),
    Operation("POST", "/users", L, create_user),
    Operation("GET", "/users/{userId}", L, get_user),
    Operation("PATCH", "/users/{userId}", L, update_user),
    Operation("DELETE", "/users/{userId}", L, delete_user),
)
