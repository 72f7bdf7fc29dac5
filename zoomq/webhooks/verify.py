"""The webhook verifier: a pure class with an injected clock, used on the receiver's hot path."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from zoomq.clock import Clock, SystemClock
from zoomq.errors import ConfigurationError, WebhookVerificationError
from zoomq.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

__all__ = ["DEFAULT_TOLERANCE", "WebhookVerifier", "find_header"]

#: Seconds a timestamp may lie in the past or the future. Zoom publishes no replay window
#: (ZOOM_API.md §2: "the tolerance is unverified"); five minutes is what zoom/skills and the
#: common samples use. It need not cover Zoom's +5/+20/+60 min retries as long as each retry
#: is re-signed with a fresh timestamp; if that ever proves false, widen it (5,400 s covers
#: all three retries) and rely on ``dedup_key`` to make replays harmless.
DEFAULT_TOLERANCE = 300.0

# A seconds timestamp has 10 digits until the year 2286; more is garbage, not a time.
_MAX_TIMESTAMP_DIGITS = 12


def find_header(headers: Mapping[str, str], name: str) -> str | None:
    """``headers[name]`` looked up case-insensitively; ``name`` must be lower-case."""
    value = headers.get(name)  # already case-insensitive for Starlette/httpx Headers
    if value is not None:
        return value
    for key, candidate in headers.items():
        if key.lower() == name:
            return candidate
    return None


class WebhookVerifier:
    """Checks ``x-zm-signature`` and ``x-zm-request-timestamp`` over the raw body bytes.

    Several secrets may be configured while one is being rotated; a signature made with any
    of them passes. Failures raise ``WebhookVerificationError`` with a ``reason``.
    """

    __slots__ = ("_clock", "_macs", "tolerance")

    def __init__(
        self,
        secrets: Sequence[str],
        tolerance: float = DEFAULT_TOLERANCE,
        clock: Clock | None = None,
    ) -> None:
        if isinstance(secrets, str):
            raise ConfigurationError("WebhookVerifier takes a sequence of secrets, not one string")
        if not secrets or not all(secrets):
            raise ConfigurationError("WebhookVerifier needs at least one non-empty secret")
        if tolerance <= 0:
            raise ConfigurationError("webhook timestamp tolerance must be positive")
        self.tolerance = float(tolerance)
        self._clock: Clock = clock if clock is not None else SystemClock()
        # Keyed once here; each call copies the keyed state instead of re-keying.
        self._macs = tuple(hmac.new(s.encode("utf-8"), digestmod=hashlib.sha256) for s in secrets)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Return if ``body`` was signed by Zoom within the tolerance; raise otherwise."""
        signature = find_header(headers, SIGNATURE_HEADER)
        if not signature:
            raise WebhookVerificationError("missing_signature", "no x-zm-signature header")
        timestamp = find_header(headers, TIMESTAMP_HEADER)
        if timestamp is not None:
            timestamp = timestamp.strip()
        if not timestamp:
            raise WebhookVerificationError("missing_timestamp", "no x-zm-request-timestamp header")
        if not (
            timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _MAX_TIMESTAMP_DIGITS
        ):
            raise WebhookVerificationError(
                "bad_timestamp", "x-zm-request-timestamp is not whole seconds since the epoch"
            )
        # Freshness first: a replay flood is refused without computing any HMAC.
        age = self._clock.time() - int(timestamp)
        if age > self.tolerance:
            raise WebhookVerificationError(
                "stale_timestamp", f"timestamp is {age:.0f} s old (tolerance {self.tolerance:g} s)"
            )
        if age < -self.tolerance:
            raise WebhookVerificationError(
                "future_timestamp",
                f"timestamp is {-age:.0f} s ahead (tolerance {self.tolerance:g} s)",
            )
        if not self._matches(timestamp.encode("ascii"), body, signature):
            raise WebhookVerificationError("bad_signature", "x-zm-signature does not match")

    def _matches(self, timestamp: bytes, body: bytes, signature: str) -> bool:
        provided = signature.strip().encode("utf-8", "replace")
        prefix = b"v0:" + timestamp + b":"
        matched = False
        for keyed in self._macs:  # every secret, no early exit: timing says nothing of which
            mac = keyed.copy()
            mac.update(prefix)
            mac.update(body)
            expected = b"v0=" + mac.hexdigest().encode("ascii")
            matched |= hmac.compare_digest(expected, provided)
        return matched
