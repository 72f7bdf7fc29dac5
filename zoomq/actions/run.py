"""Running one action of the catalog: validate the input, send, shape the output."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from zoomq.actions.base import ActionInput, ListInput, build_request
from zoomq.actions.catalog import CATALOG, Action
from zoomq.client.errors_map import json_body
from zoomq.client.http import ZoomClient
from zoomq.errors import InvalidInput

__all__ = ["get_action", "parse_input", "run_action"]


def get_action(key: str) -> Action:
    try:
        return CATALOG[key]
    except KeyError:
        raise InvalidInput(
            f"unknown action {key!r}", [{"field": "action", "message": "not in the catalog"}]
        ) from None


def parse_input(action: Action, data: Mapping[str, Any]) -> ActionInput:
    """Validate ``data`` against the action's model; errors name each field."""
    try:
        return action.input.model_validate(dict(data))
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "input", "message": _message(action, e)}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise InvalidInput(f"invalid input for {action.key}: {summary}", errors) from None


def _message(action: Action, error: Any) -> str:
    """Pydantic's message; for an unknown top-level field, the closest known name too."""
    message = str(error["msg"])
    loc = error["loc"]
    if error["type"] == "extra_forbidden" and len(loc) == 1:
        known = [info.alias or name for name, info in action.input.model_fields.items()]
        close = difflib.get_close_matches(str(loc[0]), known, n=1, cutoff=0.6)
        if close:
            message += f"; did you mean {close[0]}?"
    return message


def collect_pages(
    client: ZoomClient, action: Action, model: ListInput, path: str, query: dict[str, str]
) -> dict[str, Any]:
    """Every page's items under the action's key, bounded by max_items / max_pages."""
    assert action.items_key is not None
    items: list[Any] = []
    pages = 0
    last: dict[str, Any] = {}
    for page in client.iter_pages(
        path,
        params=query,
        page_size=action.page_size,
        category=action.category,
        max_pages=model.max_pages,
    ):
        pages += 1
        last = page
        items.extend(page.get(action.items_key) or [])
        if model.max_items is not None and len(items) >= model.max_items:
            items = items[: model.max_items]
            break
    data: dict[str, Any] = {action.items_key: items, "total_records": len(items)}
    if "total_records" in last:
        data["zoom_total_records"] = last["total_records"]
    data["pages"] = pages
    return data


def run_action(client: ZoomClient, key: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Run the action ``key`` with raw input ``data``; returns ``{"data": ...}``."""
    action = get_action(key)
    model = parse_input(action, data)
    if action.runner is not None:
        return action.runner(client, action, model)
    parts = build_request(model)
    path = action.path.format(**parts.path_params)
    if action.is_list:
        assert isinstance(model, ListInput)
        return {"data": collect_pages(client, action, model, path, parts.query)}
    user = parts.path_params.get(action.user_daily_cap) if action.user_daily_cap else None
    response = client.request(
        action.method,
        path,
        params=parts.query or None,
        json=parts.body,
        category=action.category,
        user_quota=user,
    )
    return {"data": json_body(response)}
