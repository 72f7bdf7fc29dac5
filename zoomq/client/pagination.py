"""Walking Zoom's ``next_page_token`` pagination (never ``page_number``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import structlog

from zoomq.client.errors_map import json_body
from zoomq.client.ratelimit import RateCategory

if TYPE_CHECKING:
    from zoomq.client.http import ZoomClient

__all__ = ["iter_pages"]

log = structlog.get_logger(__name__)


def iter_pages(
    client: ZoomClient,
    path: str,
    *,
    params: Mapping[str, str],
    page_size: int | None,
    category: RateCategory,
    max_pages: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield each page's body; stop at an empty token, ``max_pages`` or a repeated token.

    An expired token (code 300, 15 minutes) raises ``PageTokenExpired``; the queue then
    runs the task again, which walks the listing from its first page (``restart_listing``
    in ``zoomq.errors.HANDLING``): a fresh token is only had from the first page.
    """
    seen: set[str] = set()
    token: str | None = None
    pages = 0
    while True:
        query = dict(params)
        if page_size:
            query["page_size"] = str(page_size)
        if token:
            query["next_page_token"] = token
        response = client.request("GET", path, params=query, category=category)
        body = json_body(response)
        if not isinstance(body, dict):
            return
        yield body
        pages += 1
        token = body.get("next_page_token") or None
        if token is None or (max_pages is not None and pages >= max_pages):
            return
        if token in seen:
            log.warning("zoom.pagination.repeated_token", path=path, pages=pages)
            return
        seen.add(token)
