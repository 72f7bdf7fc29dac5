"""Zoom's paging: ``page_size`` clamped to the endpoint's maximum, opaque ``next_page_token``.

A token is stateless: it carries the offset, its expiry (15 minutes, like Zoom's)
and a checksum of the listing it belongs to, under an HMAC. An expired, forged or
foreign token is Zoom's 400 code 300.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from zoomq.clock import Clock
from zoomq.sandbox.responses import ZoomHTTPError, validation_failed

__all__ = ["Page", "PageTokens", "paginate"]

T = TypeVar("T")

_PAYLOAD = struct.Struct(">III")  # offset, expiry (epoch s), crc32 of the listing scope
_MAC_BYTES = 12


def _invalid_token() -> ZoomHTTPError:
    return ZoomHTTPError(400, 300, "The next page token is invalid or expired.")


class PageTokens:
    """Issues and checks ``next_page_token`` values."""

    def __init__(self, secret: bytes, clock: Clock, ttl: float) -> None:
        self._secret = secret
        self._clock = clock
        self._ttl = ttl

    def issue(self, scope: str, offset: int) -> str:
        expires = int(self._clock.time() + self._ttl)
        payload = _PAYLOAD.pack(offset, expires, zlib.crc32(scope.encode()))
        mac = hmac.new(self._secret, payload, hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(payload + mac).decode().rstrip("=")

    def offset(self, token: str, scope: str) -> int:
        """The offset a token points at; Zoom's 400/300 if it is invalid or expired."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise _invalid_token() from None
        if len(raw) != _PAYLOAD.size + _MAC_BYTES:
            raise _invalid_token()
        payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
        expected = hmac.new(self._secret, payload, hashlib.sha256).digest()[:_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            raise _invalid_token()
        offset, expires, checksum = _PAYLOAD.unpack(payload)
        if checksum != zlib.crc32(scope.encode()) or self._clock.time() > expires:
            raise _invalid_token()
        return int(offset)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing and the paging fields Zoom sends with it."""

    items: list[Any]
    page_size: int
    total_records: int
    next_page_token: str
    page_number: int

    @property
    def page_count(self) -> int:
        return math.ceil(self.total_records / self.page_size) if self.total_records else 0

    def fields(self, *names: str) -> dict[str, Any]:
        """The named paging fields, in Zoom's order, for the response body."""
        values = {
            "page_count": self.page_count,
            "page_number": self.page_number,
            "page_size": self.page_size,
            "total_records": self.total_records,
            "next_page_token": self.next_page_token,
        }
        return {name: values[name] for name in names}


def page_size(query: Mapping[str, str], default: int, maximum: int) -> int:
    raw = query.get("page_size")
    if raw is None or raw == "":
        return default
    try:
        size = int(raw)
    except ValueError:
        raise validation_failed(("page_size", "Invalid field.")) from None
    if size < 1:
        return default
    return min(size, maximum)  # Zoom clamps, it does not refuse


def paginate(
    tokens: PageTokens,
    query: Mapping[str, str],
    items: Sequence[T],
    *,
    scope: str,
    default: int = 30,
    maximum: int = 300,
) -> Page:
    """Cut ``items`` at the token's offset (or ``page_number``, deprecated but accepted)."""
    size = page_size(query, default, maximum)
    token = query.get("next_page_token") or ""
    if token:
        offset = tokens.offset(token, scope)
    else:
        number = query.get("page_number")
        try:
            offset = (max(int(number), 1) - 1) * size if number else 0
        except ValueError:
            raise validation_failed(("page_number", "Invalid field.")) from None
    total = len(items)
    end = offset + size
    chunk = list(items[offset:end])
    next_token = tokens.issue(scope, end) if end < total else ""
    return Page(chunk, size, total, next_token, offset // size + 1)
