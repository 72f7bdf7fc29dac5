"""Value types shared by the input models: IDs, emails, dates, lenient numbers, JSON text.

The reference component sends every number as text (``"2"``) and every JSON input as a
string holding JSON; these types accept both forms and hand ``build_request`` plain values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, get_args

from pydantic import AfterValidator, AliasChoices, BeforeValidator, StringConstraints
from pydantic.alias_generators import to_camel

__all__ = [
    "DateOrDateTime",
    "Email",
    "IsoDate",
    "IsoDateTime",
    "ZoomId",
    "accepts",
    "canonical_text",
    "check_range",
    "comma_list",
    "int_text",
    "json_text",
]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_INT = re.compile(r"[+-]?\d+")


def accepts(reference: str, field: str) -> AliasChoices:
    """The input names of a field the reference component spells differently.

    Its own name (``ocurrenceId``), the field's camelCase and the snake_case name are all
    accepted; serialization keeps the camelCase alias.
    """
    first, *rest = dict.fromkeys((reference, to_camel(field), field))
    return AliasChoices(first, *rest)


def int_text(value: Any) -> Any:
    """``"2"`` → ``2``, so ``Literal`` integer choices accept the reference's number text.

    ``int()`` on the text keeps very large codes exact (Zoom One plan codes exceed 2**53).
    """
    if isinstance(value, str) and _INT.fullmatch(value.strip()):
        return int(value)
    return value


def _id_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def json_text(value: Any) -> Any:
    """A string holding JSON (the reference's "code" inputs) → the parsed value."""
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
    return value


def comma_list(value: Any) -> Any:
    """``"a, b"`` → ``["a", "b"]``; a single number → a one-item list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, int) and not isinstance(value, bool):
        return [str(value)]
    return value


def canonical_text(choices: Any) -> Callable[[Any], Any]:
    """A before-validator mapping text to the spelling of a ``Literal``'s choices, ignoring case.

    The reference offers ``Not Involved`` and ``tr-TR`` where Zoom's spec says ``Not involved``
    and ``Tr-TR``.
    """
    lookup = {str(c).casefold(): c for c in get_args(choices)}

    def pick(value: Any) -> Any:
        if isinstance(value, str):
            return lookup.get(value.strip().casefold(), value)
        return value

    return pick


def _check_date(value: str) -> str:
    if not _DATE.fullmatch(value):
        raise ValueError("expected a date as yyyy-mm-dd")
    date.fromisoformat(value)  # rejects 2026-02-30
    return value


def _check_datetime(value: str) -> str:
    if not _DATETIME.fullmatch(value):
        raise ValueError("expected a UTC time as yyyy-MM-ddTHH:mm:ssZ")
    datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    return value


def _check_date_or_datetime(value: str) -> str:
    if _DATE.fullmatch(value):
        return _check_date(value)
    if _DATETIME.fullmatch(value):
        return _check_datetime(value)
    raise ValueError("expected yyyy-mm-dd or yyyy-MM-ddTHH:mm:ssZ")


def _date_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def check_range(start: str | None, end: str | None, *, start_name: str, end_name: str) -> None:
    """Refuse ``start`` after ``end`` (both ISO text, compared by their date-time order)."""
    if start is not None and end is not None and start > end:
        raise ValueError(f"{start_name} ({start}) must not be after {end_name} ({end})")


#: A Zoom ID used in a path: user ID, email or ``me``; meeting ID or UUID. Numbers become text.
ZoomId = Annotated[
    str, BeforeValidator(_id_text), StringConstraints(strip_whitespace=True, min_length=1)
]

#: An email address. A pattern, not a full check: email-validator is not a dependency.
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=128, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]

#: ``yyyy-mm-dd``.
IsoDate = Annotated[str, BeforeValidator(_date_text), AfterValidator(_check_date)]

#: ``yyyy-MM-ddTHH:mm:ssZ`` (UTC), Team Chat's ``from`` / ``to``.
IsoDateTime = Annotated[str, BeforeValidator(_date_text), AfterValidator(_check_datetime)]

#: Either of the two, Zoom Phone's ``from`` / ``to``.
DateOrDateTime = Annotated[
    str, BeforeValidator(_date_text), AfterValidator(_check_date_or_datetime)
]
