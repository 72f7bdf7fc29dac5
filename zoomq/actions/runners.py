"""Runners for the actions that are not one request: rawRequest and month-windowed listings."""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from zoomq.actions.base import ListInput, build_request
from zoomq.actions.inputs.raw import RawRequest
from zoomq.client.scope import UnsafeURL
from zoomq.errors import InvalidInput

if TYPE_CHECKING:
    from zoomq.actions.catalog import Action
    from zoomq.client.http import ZoomClient

__all__ = ["month_windows", "raw_request", "split_into_months"]

#: Headers a caller may not set: the bearer token is the connection's alone, and the
#: transport computes the rest.
_DROPPED_HEADERS = frozenset(
    {"authorization", "host", "content-length", "transfer-encoding", "connection"}
)


# -- rawRequest -------------------------------------------------------------------------


def _checked_url(client: ZoomClient, url: str) -> str:
    """``url`` if the client's token may go there (``ApiScope``), else ``InvalidInput``."""
    try:
        return client.scope.check(url)
    except UnsafeURL as exc:
        message = str(exc)
        raise InvalidInput(
            f"rawRequest: url: {message}", [{"field": "url", "message": message}]
        ) from None


def _response_body(response: httpx.Response, response_type: str) -> Any:
    if not response.content:
        return None
    if response_type == "text":
        return response.text
    try:
        return response.json()
    except ValueError:  # a 2xx body that is not JSON is returned as text
        return response.text


def raw_request(client: ZoomClient, action: Action, model: RawRequest) -> dict[str, Any]:
    """Send ``model`` as one request; returns ``{"data": {"data", "status", "headers"}}``.

    A relative ``url`` is joined under the API base path by the client; an absolute one
    must be on an origin of the client's ``ApiScope``. The caller cannot set
    ``Authorization``.
    """
    url = _checked_url(client, model.url)
    headers = {
        name: value
        for name, value in (model.headers or {}).items()
        if name.strip().lower() not in _DROPPED_HEADERS
    }
    response = client.request(
        model.method,
        url,
        params=model.query_params or None,
        json=model.data,
        headers=headers or None,
        category=action.category,
        raise_for_status=True,
    )
    return {
        "data": {
            "data": _response_body(response, model.response_type),
            "status": response.status_code,
            "headers": {name.lower(): value for name, value in response.headers.items()},
        }
    }


# -- month windows ----------------------------------------------------------------------


def _add_month(day: date) -> date:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def split_into_months(start: date, end: date) -> list[tuple[date, date]]:
    """Consecutive windows covering ``start``..``end``, each at most one calendar month.

    2026-01-15 → 2026-02-14, then 2026-02-15 → …; a window ending on the 31st of a short
    month ends on its last day minus one, never later than one month after its start.
    """
    windows: list[tuple[date, date]] = []
    current = start
    while current <= end:
        stop = min(_add_month(current) - timedelta(days=1), end)
        windows.append((current, stop))
        current = stop + timedelta(days=1)
    return windows


def _parse_day(value: Any, field: str) -> date | None:
    if value is None:
        return None
    text = str(value)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass  # 2026-02-30: reported below like any other malformed date
    message = f"expected a date as yyyy-mm-dd, got {value!r}"
    raise InvalidInput(f"{field}: {message}", [{"field": field, "message": message}])


def month_windows(client: ZoomClient, action: Action, model: ListInput) -> dict[str, Any]:
    """List across month windows: Zoom allows at most one month between ``from`` and ``to``.

    Pages of each window are concatenated, items seen in an earlier window (same ``uuid``)
    are dropped, and ``max_items`` / ``max_pages`` bound the whole walk.
    """
    items_key = action.items_key or "meetings"
    parts = build_request(model)
    path = action.path.format_map(parts.path_params)
    query = {k: v for k, v in parts.query.items() if k not in ("from", "to")}
    start = _parse_day(getattr(model, "from_", None), "from")
    end = _parse_day(getattr(model, "to", None), "to")
    if (start is None) != (end is None):
        field = "to" if end is None else "from"
        raise InvalidInput(
            f"{field}: required when the other end of the range is given",
            [{"field": field, "message": "required with the other end of the range"}],
        )
    if start is not None and end is not None and start > end:
        message = f"from ({start}) must not be after to ({end})"
        raise InvalidInput(message, [{"field": "from", "message": message}])
    windows: list[Mapping[str, str]] = (
        [{"from": a.isoformat(), "to": b.isoformat()} for a, b in split_into_months(start, end)]
        if start is not None and end is not None
        else [{}]
    )

    items: list[Any] = []
    seen: set[str] = set()
    pages = 0
    first: dict[str, Any] = {}

    def full() -> bool:
        return model.max_items is not None and len(items) >= model.max_items

    for window in windows:
        if full() or (model.max_pages is not None and pages >= model.max_pages):
            break
        left = None if model.max_pages is None else model.max_pages - pages
        for page in client.iter_pages(
            path,
            params={**query, **window},
            page_size=action.page_size,
            category=action.category,
            max_pages=left,
        ):
            pages += 1
            first = first or page
            for item in page.get(items_key) or []:
                uuid = item.get("uuid") if isinstance(item, dict) else None
                if uuid is not None:
                    if uuid in seen:
                        continue
                    seen.add(uuid)
                items.append(item)
                if full():
                    break
            if full():
                break
    return {
        "data": {
            items_key: items,
            "total_records": len(items),
            "from": start.isoformat() if start else first.get("from"),
            "to": end.isoformat() if end else first.get("to"),
            "pages": pages,
        }
    }
