"""Turning a Zoom error response into the right exception of the one tree."""

from __future__ import annotations

from typing import Any

import httpx

from zoomq.errors import (
    APIError,
    BadRequest,
    Conflict,
    NotFound,
    PageTokenExpired,
    PermissionDenied,
    ServerError,
    Unauthorized,
    UnexpectedStatus,
)

__all__ = ["api_error", "error_body", "json_body"]

_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
}


def error_body(response: httpx.Response) -> dict[str, Any]:
    """Zoom's ``{"code", "message", "errors"}``, or what can be salvaged of a non-JSON body."""
    try:
        body = response.json()
    except ValueError:
        return {"message": response.text[:500] or response.reason_phrase}
    return body if isinstance(body, dict) else {"message": str(body)[:500]}


def _unexpected(response: httpx.Response) -> UnexpectedStatus:
    """A 3xx (or 1xx): its body is a redirect page at best, so the message says what happened."""
    request = response.request
    target = ""
    if "location" in response.headers:
        try:
            location = request.url.join(response.headers["location"])
        except httpx.InvalidURL:
            target = " to an invalid Location"
        else:
            # Where it pointed, without credentials or query: a signed URL's token is there.
            target = f" to {location.copy_with(userinfo=b'', query=None, fragment=None)}"
    return UnexpectedStatus(
        f"unexpected {response.status_code} {response.reason_phrase}{target}; "
        "redirects are not followed",
        status=response.status_code,
        tracking_id=response.headers.get("x-zm-trackingid"),
        method=request.method,
        url=str(request.url.copy_with(query=None)),
    )


def api_error(response: httpx.Response) -> APIError:
    """The tree's error for a response that is not a 2xx success."""
    status = response.status_code
    if status < 400:
        return _unexpected(response)
    body = error_body(response)
    code = body.get("code")
    code = code if isinstance(code, int) else None
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    request = response.request
    if cls is BadRequest and code == 300 and "next_page_token" in request.url.params:
        cls = PageTokenExpired
    errors = body.get("errors")
    return cls(
        str(body.get("message") or response.reason_phrase or "error"),
        status=status,
        code=code,
        errors=errors if isinstance(errors, list) else (),
        tracking_id=response.headers.get("x-zm-trackingid"),
        method=request.method,
        url=str(request.url.copy_with(query=None)),
    )


def json_body(response: httpx.Response) -> Any:
    """A success body as JSON; anything else (an HTML page from a proxy) is a ServerError."""
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        raise ServerError(
            f"Zoom answered {response.status_code} with a body that is not JSON "
            f"({response.headers.get('content-type', 'no content-type')})",
            status=response.status_code,
            tracking_id=response.headers.get("x-zm-trackingid"),
            method=response.request.method,
            url=str(response.request.url.copy_with(query=None)),
        ) from None
