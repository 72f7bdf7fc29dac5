"""Zoom-shaped responses: JSON bodies, empty 204s and the ``{"code", "message"}`` errors.

``ZoomHTTPError`` is control flow inside the sandbox (a handler raises it, the
endpoint wrapper turns it into Zoom's error response); zoomq's own exception tree
lives in ``zoomq.errors``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from starlette.responses import Response

__all__ = [
    "Headers",
    "ZoomHTTPError",
    "invalid_token",
    "json_response",
    "meeting_not_found",
    "no_content",
    "no_recording",
    "user_not_found",
    "validation_failed",
    "webinar_not_found",
]

Headers = Sequence[tuple[str, str]]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def json_response(
    body: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()
) -> Response:
    """Serialise once, compactly (the sandbox must not be the bottleneck of a benchmark)."""
    return Response(_dumps(body).encode(), status, dict(headers), "application/json")


def no_content(headers: Iterable[tuple[str, str]] = ()) -> Response:
    return Response(status_code=204, headers=dict(headers))


class ZoomHTTPError(Exception):
    """A Zoom error answer: HTTP status, Zoom ``code``, ``message``, optional field errors."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: Sequence[Mapping[str, str]] = (),
        headers: Headers = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = [dict(e) for e in errors]
        self.headers = list(headers)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body

    def response(self, extra_headers: Iterable[tuple[str, str]] = ()) -> Response:
        # The error's own headers win: a per-user or per-registrant daily cap says
        # ``Daily-limit`` even though the account's per-second budget had room.
        return json_response(self.body(), self.status, [*extra_headers, *self.headers])


def validation_failed(*fields: tuple[str, str]) -> ZoomHTTPError:
    """400 code 300 naming each bad field, as Zoom's validation errors do."""
    return ZoomHTTPError(
        400,
        300,
        "Validation Failed.",
        errors=[{"field": field, "message": message} for field, message in fields],
    )


def invalid_token(message: str = "Invalid access token.") -> ZoomHTTPError:
    return ZoomHTTPError(401, 124, message)


def user_not_found(user_id: str) -> ZoomHTTPError:
    return ZoomHTTPError(404, 1001, f"User does not exist: {user_id}.")


def meeting_not_found(meeting_id: object) -> ZoomHTTPError:
    return ZoomHTTPError(404, 3001, f"Meeting does not exist: {meeting_id}.")


def webinar_not_found(webinar_id: object) -> ZoomHTTPError:
    return ZoomHTTPError(404, 3001, f"Webinar does not exist: {webinar_id}.")


def no_recording() -> ZoomHTTPError:
    return ZoomHTTPError(404, 3301, "There is no recording for this meeting.")
