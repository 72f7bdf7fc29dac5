"""Errors of the webhook path; both hang under ``ZoomError`` in ``zoomq.errors``.

::

    ZoomError
    ├── WebhookVerificationError   signature or timestamp refused; the receiver answers 401
    └── MalformedWebhook           signed, but not a Zoom envelope; the receiver answers 400

Each carries a short machine-readable ``reason`` (one of the ``*_REASONS`` tuples), so the
receiver can count and map failures without parsing messages.
"""

from __future__ import annotations

from typing import Any

from zoomq.errors import ZoomError

__all__ = [
    "ENVELOPE_REASONS",
    "VERIFICATION_REASONS",
    "MalformedWebhook",
    "WebhookVerificationError",
]

#: Every ``WebhookVerificationError.reason``.
VERIFICATION_REASONS = (
    "missing_signature",
    "missing_timestamp",
    "bad_timestamp",
    "stale_timestamp",
    "future_timestamp",
    "bad_signature",
)

#: Every ``MalformedWebhook.reason``.
ENVELOPE_REASONS = (
    "invalid_json",
    "not_an_object",
    "missing_event",
    "bad_event",
    "missing_event_ts",
    "bad_event_ts",
    "missing_payload",
    "bad_payload",
    "missing_plain_token",
    "bad_plain_token",
    "too_deep",
)


class _ReasonError(ZoomError):
    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or reason.replace("_", " "))
        self.reason = reason

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "reason": self.reason}


class WebhookVerificationError(_ReasonError):
    """Not provably from Zoom: a bad or missing signature, or a timestamp out of range."""


class MalformedWebhook(_ReasonError):
    """The body is not a Zoom webhook envelope (``event``, ``event_ts``, ``payload``)."""
