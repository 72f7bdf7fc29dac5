"""Zoom webhooks as the receiver meets them: verify the signature, parse the envelope.

Zoom's side (event payloads, signing and delivering them) is emulated in
``zoomq.sandbox.webhooks``, a tool that production code never imports.
"""

from zoomq.errors import MalformedWebhook, WebhookVerificationError
from zoomq.webhooks.envelope import (
    URL_VALIDATION,
    ZoomEvent,
    dedup_key,
    is_url_validation,
    parse_envelope,
    plain_token,
)
from zoomq.webhooks.errors import ENVELOPE_REASONS, VERIFICATION_REASONS
from zoomq.webhooks.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    url_validation_response,
)
from zoomq.webhooks.verify import DEFAULT_TOLERANCE, WebhookVerifier

__all__ = [
    "DEFAULT_TOLERANCE",
    "ENVELOPE_REASONS",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "URL_VALIDATION",
    "VERIFICATION_REASONS",
    "MalformedWebhook",
    "WebhookVerificationError",
    "WebhookVerifier",
    "ZoomEvent",
    "dedup_key",
    "is_url_validation",
    "parse_envelope",
    "plain_token",
    "sign",
    "url_validation_response",
]
