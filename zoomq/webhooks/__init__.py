"""Zoom webhooks: verify and parse what Zoom sends, and play Zoom's side for tests and dev.

The receiver needs ``WebhookVerifier``, ``parse_envelope``, ``dedup_key`` and
``url_validation_response``; the CLI, the sandbox and tests use the builders and the sender.
"""

from zoomq.webhooks.emitter import SandboxEmitter, make_sandbox_emitter
from zoomq.webhooks.envelope import (
    URL_VALIDATION,
    ZoomEvent,
    dedup_key,
    is_url_validation,
    parse_envelope,
    plain_token,
)
from zoomq.webhooks.errors import (
    ENVELOPE_REASONS,
    VERIFICATION_REASONS,
    MalformedWebhook,
    WebhookVerificationError,
)
from zoomq.webhooks.events import EVENT_NAMES, build_event, wrap_event
from zoomq.webhooks.sender import (
    Attempt,
    DeliveryResult,
    ValidationResult,
    WebhookSender,
    build_headers,
    serialize,
)
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
    "EVENT_NAMES",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "URL_VALIDATION",
    "VERIFICATION_REASONS",
    "Attempt",
    "DeliveryResult",
    "MalformedWebhook",
    "SandboxEmitter",
    "ValidationResult",
    "WebhookSender",
    "WebhookVerificationError",
    "WebhookVerifier",
    "ZoomEvent",
    "build_event",
    "build_headers",
    "dedup_key",
    "is_url_validation",
    "make_sandbox_emitter",
    "parse_envelope",
    "plain_token",
    "serialize",
    "sign",
    "url_validation_response",
    "wrap_event",
]
