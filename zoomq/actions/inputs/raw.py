"""Input of rawRequest: any method and path of the Zoom API, sent with the connection's token.

The model refuses what no client could send safely (paths that climb out of the base
path, credentials in URLs); the origin check needs the client's ``ApiScope``, so
``runners.raw_request`` makes it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, BeforeValidator, Field, field_validator

from zoomq.actions.base import ActionInput
from zoomq.client.scope import check_path

__all__ = ["Method", "RawRequest"]

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ValueError(f"expected text or a number, not {type(value).__name__}")


def _pairs(value: Any) -> Any:
    """``{"k": "v"}`` or the reference's ``[{"key": "k", "value": "v"}]`` → ``{"k": "v"}``."""
    if value is None:
        return None
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    if isinstance(value, dict):
        return {str(k): _text(v) for k, v in value.items()}
    if isinstance(value, list):
        out: dict[str, str] = {}
        for item in value:
            if not isinstance(item, dict) or set(item) - {"key", "value"} or "key" not in item:
                raise ValueError('expected {"key": ..., "value": ...} items')
            out[str(item["key"])] = _text(item.get("value", ""))
        return out
    raise ValueError("expected an object or a list of key/value items")


def _json_body(value: Any) -> Any:
    """A string holding JSON is parsed; a blank string means no body."""
    if isinstance(value, str | bytes):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
    return value


Pairs = Annotated[dict[str, str] | None, BeforeValidator(_pairs)]


class RawRequest(ActionInput):
    """Send one request of any method to a path of the Zoom API."""

    method: Annotated[Method, BeforeValidator(_upper)]
    url: Annotated[str, Field(min_length=1)]
    query_params: Pairs = None
    headers: Pairs = None
    data: Annotated[Any, BeforeValidator(_json_body)] = Field(
        None, validation_alias=AliasChoices("data", "body")
    )
    response_type: Literal["json", "text"] = "json"

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: str) -> str:
        check_path(value)  # first: urlsplit silently drops tabs and newlines
        parts = urlsplit(value)
        if parts.scheme or parts.netloc:
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("give a path such as /users/me or a full https:// URL")
            if parts.username is not None or parts.password is not None:
                raise ValueError("credentials in the URL are not allowed")
            return value
        if value.startswith("//"):
            raise ValueError("give a path such as /users/me or a full https:// URL")
        return value if value.startswith("/") else "/" + value
