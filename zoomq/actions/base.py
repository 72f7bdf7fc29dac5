"""The base of every action input model and the one generic request builder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from zoomq.actions.fields import InBody, InPath, InQuery

__all__ = ["ActionInput", "ListInput", "RequestParts", "build_request", "encode_path_value"]


class ActionInput(BaseModel):
    """Inputs accept the reference component's camelCase names and snake_case alike.

    Unknown fields are refused, so a typo is an error naming the field, not a silent drop.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        str_strip_whitespace=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """The reference component treats blank text inputs as not given."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    @model_validator(mode="after")
    def _no_dot_segments(self) -> ActionInput:
        """A path value of ``.`` or ``..`` would name another endpoint once a server
        resolves it (``/users/..`` is ``/``), so it is refused rather than sent."""
        for name, info in type(self).model_fields.items():
            if any(isinstance(m, InPath) for m in info.metadata):
                value = getattr(self, name)
                if isinstance(value, str) and value in {".", ".."}:
                    raise ValueError(f"{name}: {value!r} is not a valid path value")
        return self


class ListInput(ActionInput):
    """List actions return every page by default; these bound the walk."""

    max_items: int | None = Field(default=None, ge=1, description="stop after this many items")
    max_pages: int | None = Field(default=None, ge=1, description="stop after this many pages")


@dataclass
class RequestParts:
    """The HTTP request an input describes, before auth and base URL."""

    path_params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


def encode_path_value(value: str, *, uuid: bool = False) -> str:
    """URL-encode one path segment.

    Zoom: meeting UUIDs that begin with ``/`` or contain ``//`` must be
    double-encoded (ZOOM_API.md §1, getMeetingRecordings).
    """
    once = quote(value, safe="")
    if uuid and (value.startswith("/") or "//" in value):
        return quote(once, safe="")
    return once


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(_query_value(v) for v in value)
    if hasattr(value, "value"):  # enums
        return str(value.value)
    return str(value)


def _set_dotted(body: dict[str, Any], dotted: str, value: Any, *, merge: bool) -> None:
    target = body
    parts = [p for p in dotted.split(".") if p]
    if merge:
        for part in parts:
            target = target.setdefault(part, {})
        if not isinstance(value, dict):
            raise TypeError(f"{dotted or 'body'}: expected an object to merge")
        target.update(value)
        return
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def build_request(model: ActionInput) -> RequestParts:
    """Place every set field of ``model`` by its marker; fields left unset are not sent."""
    parts = RequestParts()
    body: dict[str, Any] = {}
    merges: list[tuple[str, Any]] = []
    has_body_field = False
    for name, info in type(model).model_fields.items():
        markers = [m for m in info.metadata if isinstance(m, InPath | InQuery | InBody)]
        if not markers:
            continue
        marker = markers[0]
        if isinstance(marker, InBody):
            has_body_field = True
        value = getattr(model, name)
        if value is None:
            continue
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json", exclude_none=True)
        elif hasattr(value, "value") and not isinstance(value, bool | int | str):
            value = value.value
        if isinstance(marker, InPath):
            parts.path_params[marker.name] = encode_path_value(str(value), uuid=marker.uuid)
        elif isinstance(marker, InQuery):
            parts.query[marker.name] = _query_value(value)
        elif marker.merge:
            merges.append((marker.path, value))  # applied last, so extras override
        else:
            _set_dotted(body, marker.path, value, merge=False)
    for path, value in merges:
        _set_dotted(body, path, value, merge=True)
    if has_body_field:
        parts.body = body
    return parts
