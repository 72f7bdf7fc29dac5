"""Zoom's webhook envelope: ``{"event", "event_ts", "payload"}`` parsed from the raw body.

Shape per ZOOM_API.md §2: ``event`` is ``<object>.<action>``, ``event_ts`` is epoch
milliseconds, ``payload`` holds ``account_id`` and ``object``; ``recording.completed``
adds a top-level ``download_token`` beside them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import orjson

from zoomq.errors import MalformedWebhook

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "URL_VALIDATION",
    "ZoomEvent",
    "dedup_key",
    "is_url_validation",
    "parse_envelope",
    "plain_token",
]

URL_VALIDATION = "endpoint.url_validation"

#: Deepest nesting of objects and arrays accepted (the top-level object is 1). Zoom's
#: payloads nest about 5 deep; the worker's JSON decoder fails near 1,000 (the recursion
#: limit), and a body it cannot decode is lost, so the receiver refuses far short of that.
DEFAULT_MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class ZoomEvent:
    """One parsed webhook delivery."""

    event: str
    event_ts: int  # epoch milliseconds
    payload: dict[str, Any]
    download_token: str | None
    raw: dict[str, Any]

    @property
    def account_id(self) -> str | None:
        """``payload.account_id`` when present."""
        value = self.payload.get("account_id")
        return value if isinstance(value, str) else None

    @property
    def object(self) -> dict[str, Any] | None:
        """``payload.object`` when present."""
        value = self.payload.get("object")
        return value if isinstance(value, dict) else None


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python's parser accepts them unless told otherwise.
    raise ValueError(f"{name} is not valid JSON")


def _deeper_than(data: Any, limit: int) -> bool:
    """True if objects and arrays in ``data`` nest more than ``limit`` deep; iterative."""
    level = [data] if isinstance(data, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for item in level:
            values = item.values() if isinstance(item, dict) else item
            below.extend(v for v in values if isinstance(v, dict | list))
        level = below
    return False


# ASCII digits mapped to "0", "{" and "[" to "[", every other byte to "x": in one C pass
# over the body a run of 19 digits then shows as _DIGIT_RUN, and the openers can be counted.
_SCAN = bytes(
    0x30 if 0x30 <= i <= 0x39 else 0x5B if i in (0x5B, 0x7B) else 0x78 for i in range(256)
)
_DIGIT_RUN = b"0" * 19


def _loads(body: bytes, scanned: bytes | None) -> Any:
    """``body`` as Python's json module reads it (UTF-8/16/32, no NaN or Infinity), faster.

    orjson parses the common body several times faster, and what it accepts it reads as
    the json module does, with one exception: an integer beyond 64 bits becomes a float.
    So a body with a 19-digit run goes to the json module, as does every body orjson
    refuses (lone surrogates, a BOM, UTF-16, infinite floats, invalid JSON): the json
    module's verdict and error text stay the answer. ``scanned`` is ``body`` through _SCAN.
    """
    if scanned is not None and _DIGIT_RUN not in scanned:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body, parse_constant=_refuse_constant)


def parse_envelope(body: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> ZoomEvent:
    """Parse a delivery; raise ``MalformedWebhook`` with a ``reason`` if it is not an envelope.

    Containers nested more than ``max_depth`` deep are refused (``too_deep``).
    """
    scanned = body.translate(_SCAN) if isinstance(body, bytes) else None
    try:
        data = _loads(body, scanned)
    except RecursionError:  # the json module, past orjson's own limit of 1,024
        raise MalformedWebhook("too_deep", _too_deep(max_depth)) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise MalformedWebhook("invalid_json", f"body is not UTF-8 JSON: {exc}") from None
    # Each level takes a "{" or "[" (in any encoding): a body with no more of them than the
    # limit cannot be too deep. One C pass; only bodies with more are walked.
    openers = max_depth + 1 if scanned is None else scanned.count(b"[")
    if openers > max_depth and _deeper_than(data, max_depth):
        raise MalformedWebhook("too_deep", _too_deep(max_depth))
    if not isinstance(data, dict):
        raise MalformedWebhook("not_an_object", "body is not a JSON object")
    if "event" not in data:
        raise MalformedWebhook("missing_event", "no 'event' field")
    event = data["event"]
    if not isinstance(event, str) or not event:
        raise MalformedWebhook("bad_event", "'event' is not a non-empty string")
    if not event.isascii() and not _is_unicode(event):  # it names Redis keys (UTF-8)
        raise MalformedWebhook("bad_event", "'event' is not valid Unicode (a lone surrogate)")
    if "event_ts" not in data:
        raise MalformedWebhook("missing_event_ts", "no 'event_ts' field")
    event_ts = data["event_ts"]
    if not isinstance(event_ts, int) or isinstance(event_ts, bool):
        raise MalformedWebhook("bad_event_ts", "'event_ts' is not an integer (epoch ms)")
    if "payload" not in data:
        raise MalformedWebhook("missing_payload", "no 'payload' field")
    payload = data["payload"]
    if not isinstance(payload, dict):
        raise MalformedWebhook("bad_payload", "'payload' is not an object")
    token = data.get("download_token")
    return ZoomEvent(
        event=event,
        event_ts=event_ts,
        payload=payload,
        download_token=token if isinstance(token, str) else None,
        raw=data,
    )


def _is_unicode(text: str) -> bool:
    """False for a string with a lone surrogate: JSON can escape one, UTF-8 cannot hold it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _too_deep(limit: int) -> str:
    return f"body nests objects and arrays more than {limit} deep"


def dedup_key(event: ZoomEvent, body: bytes) -> str:
    """A key equal for every delivery of one event, and different for different events.

    Zoom re-signs a retry with a new ``x-zm-request-timestamp`` but sends the same body
    (same ``event``, ``event_ts`` and ``payload``), so a hash of the raw body identifies the
    event; the event name is kept in clear to make the key readable in Redis and logs.
    """
    return f"evt:{event.event}:{hashlib.sha256(body).hexdigest()}"


def is_url_validation(event: ZoomEvent) -> bool:
    """True for Zoom's endpoint check, which is answered at once and never queued."""
    return event.event == URL_VALIDATION


def plain_token(event: ZoomEvent) -> str:
    """``payload.plainToken`` of an ``endpoint.url_validation`` event."""
    token = event.payload.get("plainToken")
    if not isinstance(token, str) or not token:
        raise MalformedWebhook("missing_plain_token", "url_validation without payload.plainToken")
    if not _is_unicode(token):  # the answer signs its UTF-8 bytes
        raise MalformedWebhook(
            "bad_plain_token", "payload.plainToken is not valid Unicode (a lone surrogate)"
        )
    return token
