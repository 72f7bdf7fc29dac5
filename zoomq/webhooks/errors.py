"""The reasons a webhook is refused with.

``WebhookVerificationError`` (the receiver answers 401) and ``MalformedWebhook`` (400)
live in ``zoomq.errors`` under ``WebhookError``; each carries a short machine-readable
``reason``, one of these tuples, so the receiver can count and map failures without
parsing messages.
"""

from __future__ import annotations

__all__ = ["ENVELOPE_REASONS", "VERIFICATION_REASONS"]

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
