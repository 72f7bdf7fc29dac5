"""Input checks that end in Zoom's 400 code 300 ("Validation Failed.", naming the field)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from zoomq.sandbox.responses import validation_failed
from zoomq.sandbox.times import parse_date, parse_datetime

__all__ = ["FieldErrors", "choice", "date_param", "datetime_param", "email_ok"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
INVALID = "Invalid field."


def email_ok(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 128 and bool(_EMAIL.match(value))


def choice(query: Mapping[str, str], name: str, allowed: Collection[str], default: str) -> str:
    value = query.get(name) or default
    if value not in allowed:
        raise validation_failed((name, INVALID))
    return value


def date_param(query: Mapping[str, str], name: str) -> date | None:
    """A ``yyyy-mm-dd`` query parameter, or None when absent."""
    value = query.get(name)
    if not value:
        return None
    try:
        return parse_date(value)
    except ValueError:
        raise validation_failed((name, INVALID)) from None


def datetime_param(query: Mapping[str, str], name: str) -> float | None:
    """A date-time (or bare date) query parameter as epoch seconds, or None when absent."""
    value = query.get(name)
    if not value:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        raise validation_failed((name, INVALID)) from None


class FieldErrors:
    """Collects bad fields of a request body, then raises them all at once."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def add(self, field: str, message: str = INVALID) -> None:
        self.errors.append((field, message))

    def string(
        self,
        body: Mapping[str, Any],
        name: str,
        *,
        prefix: str = "",
        max_length: int | None = None,
        required: bool = False,
    ) -> str | None:
        value = body.get(name)
        if value is None:
            if required:
                self.add(prefix + name, "This field is required.")
            return None
        if not isinstance(value, str) or (max_length is not None and len(value) > max_length):
            self.add(prefix + name)
            return None
        if required and not value.strip():
            self.add(prefix + name, "This field is required.")
            return None
        return value

    def integer(
        self, body: Mapping[str, Any], name: str, *, allowed: Collection[int] | None = None
    ) -> int | None:
        value = body.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.isdigit():
                value = int(value)
            else:
                self.add(name)
                return None
        if allowed is not None and value not in allowed:
            self.add(name)
            return None
        return value

    def boolean(self, body: Mapping[str, Any], name: str) -> bool | None:
        value = body.get(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.add(name)
            return None
        return value

    def raise_if_any(self) -> None:
        if self.errors:
            raise validation_failed(*self.errors)
