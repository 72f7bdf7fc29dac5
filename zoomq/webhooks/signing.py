"""Zoom's webhook signature and URL-validation answer, as pure functions.

Zoom signs ``"v0:" + <x-zm-request-timestamp> + ":" + <body>`` with HMAC-SHA256 keyed by
the app's Webhook Secret Token and sends ``"v0=" + hexdigest`` in ``x-zm-signature``
(ZOOM_API.md §2, developers.zoom.us/docs/api/webhooks/).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = [
    "SIGNATURE_HEADER",
    "SIGNATURE_VERSION",
    "TIMESTAMP_HEADER",
    "sign",
    "signing_message",
    "url_validation_response",
]

SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"
SIGNATURE_VERSION = "v0"


def signing_message(timestamp: str | int, body: bytes) -> bytes:
    """The exact bytes Zoom signs: ``v0:<timestamp>:<body>``."""
    return b"v0:" + str(timestamp).encode("ascii") + b":" + body


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    """The ``x-zm-signature`` value for ``body`` sent at ``timestamp`` (seconds)."""
    digest = hmac.new(secret.encode("utf-8"), signing_message(timestamp, body), hashlib.sha256)
    return f"{SIGNATURE_VERSION}={digest.hexdigest()}"


def url_validation_response(secret: str, plain_token: str) -> dict[str, str]:
    """The body that answers an ``endpoint.url_validation`` challenge (the CRC check)."""
    encrypted = hmac.new(secret.encode("utf-8"), plain_token.encode("utf-8"), hashlib.sha256)
    return {"plainToken": plain_token, "encryptedToken": encrypted.hexdigest()}
