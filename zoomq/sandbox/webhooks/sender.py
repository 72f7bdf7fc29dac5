"""Zoom's side of webhook delivery: serialise, sign, POST, retry as Zoom does.

Delivery semantics (ZOOM_API.md §2, devsupport "Webhook delays"): an attempt succeeds on a
2xx within 3 seconds; only HTTP >= 500, timeouts and connection errors are retried, at
+5 min, +20 min and +60 min after the previous attempt; 3xx and 4xx are never retried;
after the third failed retry the event is dropped. Every attempt is signed afresh.
"""

from __future__ import annotations

import hmac
import json
import math
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from zoomq.clock import Clock, SystemClock
from zoomq.errors import InvalidInput
from zoomq.sandbox.webhooks.events import build_event
from zoomq.webhooks.envelope import URL_VALIDATION
from zoomq.webhooks.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    url_validation_response,
)

__all__ = [
    "CONTENT_TYPE",
    "USER_AGENT",
    "ZOOM_DEADLINE",
    "ZOOM_RETRY_DELAYS",
    "Attempt",
    "DeliveryResult",
    "ValidationResult",
    "WebhookSender",
    "build_headers",
    "serialize",
]

#: Seconds Zoom waits for the answer to one attempt.
ZOOM_DEADLINE = 3.0
#: Seconds from one attempt to the next retry: +5 min, +20 min, +60 min.
ZOOM_RETRY_DELAYS: tuple[float, ...] = (300.0, 1200.0, 3600.0)
USER_AGENT = "Zoom Marketplace/1.0a"
CONTENT_TYPE = "application/json; charset=utf-8"

# JavaScript numbers are doubles: integers beyond this lose digits in JSON.parse.
_MAX_SAFE_INTEGER = 2**53 - 1
# Python's float repr switches to exponent notation below 1e-4, JavaScript's below 1e-6.
_SMALLEST_SAME_FLOAT = 1e-4
_MAX_ARRAY_INDEX = 2**32 - 2


def _is_array_index(key: str) -> bool:
    return key.isascii() and key.isdigit() and str(int(key)) == key and int(key) <= _MAX_ARRAY_INDEX


def _js_ready(value: Any, path: str) -> Any:
    """``value`` rebuilt so that ``json.dumps`` writes what ``JSON.stringify`` would."""
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise InvalidInput(f"{path}: object keys must be strings")
        # A JavaScript object lists integer-like keys first, ascending, then the rest in order.
        index_keys = sorted((k for k in value if _is_array_index(k)), key=int)
        ordered = index_keys + [k for k in value if not _is_array_index(k)]
        return {k: _js_ready(value[k], f"{path}.{k}") for k in ordered}
    if isinstance(value, list | tuple):
        return [_js_ready(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise InvalidInput(f"{path}: {value} is beyond JavaScript's safe integers (2**53 - 1)")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{path}: {value} is not JSON")
        if value.is_integer() and abs(value) <= _MAX_SAFE_INTEGER:
            return int(value)  # JavaScript writes 1.0 as 1
        if abs(value) < _SMALLEST_SAME_FLOAT or abs(value) > _MAX_SAFE_INTEGER:
            raise InvalidInput(f"{path}: {value!r} is written differently by JavaScript")
        return value
    raise InvalidInput(f"{path}: {type(value).__name__} is not JSON")


def serialize(event: Mapping[str, Any]) -> bytes:
    """The body as Zoom sends it: compact UTF-8 JSON, in JavaScript's key and number forms.

    Zoom's sample verifier signs ``JSON.stringify(JSON.parse(body))``; these bytes are a
    fixed point of that round trip, so both it and a raw-body verifier accept them.
    """
    text = json.dumps(
        _js_ready(event, "$"), separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise InvalidInput(f"the event holds text that is not valid Unicode: {exc}") from None


def _uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def build_headers(
    secret: str,
    body: bytes,
    clock: Clock,
    *,
    rng: random.Random | None = None,
) -> dict[str, str]:
    """The headers of one delivery attempt, signed at ``clock.time()`` (whole seconds)."""
    rng = rng if rng is not None else random.SystemRandom()
    timestamp = str(int(clock.time()))
    return {
        "content-type": CONTENT_TYPE,
        "user-agent": USER_AGENT,
        "x-zm-request-id": _uuid4(rng),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        # The form of Zoom's tracking ids; the value is only a correlation id.
        "x-zm-trackingid": f"v=2.0;clid=us06;rid=WEB_{rng.getrandbits(128):032x}",
    }


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST of a delivery."""

    number: int  # 1 is the first delivery, 2..4 the retries
    status: int | None  # HTTP status, None if no usable answer
    error: str | None  # "timeout", "connect_error", "transport_error"
    detail: str | None
    elapsed_ms: int
    at: float  # wall time the attempt started (epoch seconds)
    timestamp: str  # the x-zm-request-timestamp it was signed with
    request_id: str
    retry_in: float | None = None  # seconds until the next attempt, if there is one

    @property
    def ok(self) -> bool:
        """Zoom counts any 2xx within the deadline as delivered."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """Only HTTP >= 500 and no-answer errors make Zoom try again."""
        return self.error is not None or (self.status is not None and self.status >= 500)

    def describe(self) -> str:
        """One line for the CLI."""
        outcome = f"HTTP {self.status}" if self.status is not None else self.error or "?"
        if self.detail:
            outcome = f"{outcome} ({self.detail})"
        line = f"attempt {self.number}: {outcome} in {self.elapsed_ms} ms"
        if self.retry_in is not None:
            line += f"; retrying in {self.retry_in:g} s"
        return line


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """Every attempt at delivering one event, and whether one of them succeeded."""

    url: str
    event: str
    attempts: tuple[Attempt, ...]

    @property
    def delivered(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].ok

    def describe(self) -> str:
        """The final line for the CLI."""
        n = len(self.attempts)
        tries = f"{n} attempt{'s' if n != 1 else ''}"
        if self.delivered:
            return f"delivered {self.event} after {tries}"
        last = self.attempts[-1]
        if last.retryable:
            return f"not delivered: gave up on {self.event} after {tries}"
        reason = f": {last.detail}" if last.detail else ""
        return f"not delivered: HTTP {last.status}{reason}; not retried by Zoom ({tries})"


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """What an endpoint answered to Zoom's ``endpoint.url_validation`` check."""

    url: str
    plain_token: str
    status: int | None
    elapsed_ms: int
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        if self.ok:
            return f"valid: {self.url} answered the url_validation check in {self.elapsed_ms} ms"
        return "invalid: " + "; ".join(self.problems)


class WebhookSender:
    """Delivers signed events to one endpoint the way Zoom does.

    ``time_scale`` multiplies the waits between retries (0.001 turns 85 minutes into
    5 seconds); the per-attempt ``deadline`` is not scaled.
    """

    def __init__(
        self,
        http: httpx.Client,
        secret: str,
        clock: Clock | None = None,
        time_scale: float = 1.0,
        deadline: float = ZOOM_DEADLINE,
        *,
        retry_delays: Sequence[float] = ZOOM_RETRY_DELAYS,
        rng: random.Random | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
    ) -> None:
        if not secret:
            raise InvalidInput("the webhook secret token is empty")
        if time_scale < 0 or deadline <= 0:
            raise InvalidInput("time_scale must be >= 0 and deadline > 0")
        self._http = http
        self._secret = secret
        self._clock: Clock = clock if clock is not None else SystemClock()
        self.time_scale = time_scale
        self.deadline = deadline
        self.retry_delays = tuple(retry_delays)
        self._rng = rng if rng is not None else random.SystemRandom()
        self._on_attempt = on_attempt

    def deliver(
        self,
        url: str,
        event: Mapping[str, Any],
        *,
        on_attempt: Callable[[Attempt], None] | None = None,
    ) -> DeliveryResult:
        """POST ``event`` until it is accepted, refused for good, or the retries run out."""
        body = serialize(event)
        callback = on_attempt or self._on_attempt
        attempts: list[Attempt] = []
        for number in range(1, len(self.retry_delays) + 2):
            started = self._clock.monotonic()
            attempt, _ = self._post(url, body, number)
            if not attempt.ok and attempt.retryable and number <= len(self.retry_delays):
                attempt = replace(attempt, retry_in=self.retry_delays[number - 1] * self.time_scale)
            attempts.append(attempt)
            if callback is not None:
                callback(attempt)
            if attempt.retry_in is None:
                break
            # Zoom counts each delay from the previous attempt, not from its answer.
            self._clock.sleep(started + attempt.retry_in - self._clock.monotonic())
        return DeliveryResult(url=url, event=str(event.get("event", "")), attempts=tuple(attempts))

    def validate_endpoint(self, url: str) -> ValidationResult:
        """Run Zoom's url_validation (CRC) check against ``url`` once and report each fault."""
        event = build_event(URL_VALIDATION, clock=self._clock, rng=self._rng)
        token = str(event["payload"]["plainToken"])
        attempt, response = self._post(url, serialize(event), 1)
        problems: list[str] = []
        if response is None:
            problems.append(f"no answer: {attempt.error} ({attempt.detail})")
        else:
            problems.extend(self._check_validation(response, token))
        return ValidationResult(
            url=url,
            plain_token=token,
            status=response.status_code if response is not None else None,
            elapsed_ms=attempt.elapsed_ms,
            problems=tuple(problems),
        )

    def _check_validation(self, response: httpx.Response, token: str) -> list[str]:
        problems = []
        if response.status_code not in (200, 204):
            problems.append(f"answered HTTP {response.status_code}; Zoom requires 200 or 204")
        try:
            answer = response.json()
        except ValueError:
            return [*problems, "the body is not JSON {plainToken, encryptedToken}"]
        if not isinstance(answer, dict):
            return [*problems, "the body is not a JSON object"]
        got_plain = answer.get("plainToken")
        if got_plain != token:
            problems.append(
                "plainToken is missing" if got_plain is None else "plainToken is not the one sent"
            )
        expected = url_validation_response(self._secret, token)["encryptedToken"]
        got = answer.get("encryptedToken")
        if not isinstance(got, str):
            problems.append("encryptedToken is missing")
        elif not hmac.compare_digest(got.encode("utf-8", "replace"), expected.encode("ascii")):
            hint = " (upper-case hex)" if got.lower() == expected else "; wrong secret token?"
            problems.append(f"encryptedToken is not hex HMAC-SHA256(secret, plainToken){hint}")
        return problems

    def _post(self, url: str, body: bytes, number: int) -> tuple[Attempt, httpx.Response | None]:
        headers = build_headers(self._secret, body, self._clock, rng=self._rng)
        at = self._clock.time()
        started = self._clock.monotonic()
        status: int | None = None
        error: str | None = None
        detail: str | None = None
        response: httpx.Response | None = None
        try:
            response = self._http.post(
                url,
                content=body,
                headers=headers,
                timeout=httpx.Timeout(self.deadline),
                follow_redirects=False,  # Zoom does not follow redirects: 3xx is a failure
            )
        except httpx.TimeoutException as exc:
            error, detail = "timeout", type(exc).__name__
        except httpx.ConnectError as exc:
            error, detail = "connect_error", str(exc) or type(exc).__name__
        except httpx.TransportError as exc:
            error, detail = "transport_error", str(exc) or type(exc).__name__
        elapsed = self._clock.monotonic() - started
        if response is not None:
            status = response.status_code
            if 400 <= status < 500:
                detail = _refusal_reason(response)
            if elapsed > self.deadline:  # the read timeout is per read, the deadline is total
                error, detail = (
                    "timeout",
                    f"HTTP {status} came after the {self.deadline:g} s deadline",
                )
                status, response = None, None
        attempt = Attempt(
            number=number,
            status=status,
            error=error,
            detail=detail,
            elapsed_ms=round(elapsed * 1000),
            at=at,
            timestamp=headers[TIMESTAMP_HEADER],
            request_id=headers["x-zm-request-id"],
        )
        return attempt, response


def _refusal_reason(response: httpx.Response) -> str | None:
    """Why the endpoint refused: its JSON ``error``/``reason``/``message``, else its text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("error", "reason", "message"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])[:200]
    text = response.text.strip()
    return text[:200] or None
