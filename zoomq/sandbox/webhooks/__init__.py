"""Zoom's side of webhooks: realistic event payloads, Zoom's serialisation and signing,
and delivery with Zoom's deadline and retries. Used by the sandbox, the CLI and tests.
"""

from zoomq.sandbox.webhooks.emitter import SandboxEmitter, make_sandbox_emitter
from zoomq.sandbox.webhooks.events import EVENT_NAMES, build_event, wrap_event
from zoomq.sandbox.webhooks.sender import (
    Attempt,
    DeliveryResult,
    ValidationResult,
    WebhookSender,
    build_headers,
    serialize,
)

__all__ = [
    "EVENT_NAMES",
    "Attempt",
    "DeliveryResult",
    "SandboxEmitter",
    "ValidationResult",
    "WebhookSender",
    "build_event",
    "build_headers",
    "make_sandbox_emitter",
    "serialize",
    "wrap_event",
]
