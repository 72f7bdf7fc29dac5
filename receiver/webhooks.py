"""``POST /webhooks/zoom[/{connection}][/]``: verify, parse, enqueue durably, then answer.

Status codes, chosen for how Zoom reacts (it retries only >= 500 and timeouts, ZOOM_API.md §2):

- 200: the event is in Redis (or was already: a duplicate), or a url_validation answer;
- 503: Redis did not confirm in time; Zoom retries later, dedup makes that harmless;
- 401 bad or stale signature, 400 signed but not a Zoom envelope (or nested deeper than
  ``max_depth``, which the worker could not decode), 413 too large, 404 unknown
  connection: retrying cannot help, so no 5xx (but a bad signature is 503 while
  ``ZOOMQ_WEBHOOK_SECRET_ROTATION`` is on: Zoom retries it once receivers have the secret);
- 403 ``endpoint not configured`` when the connection has no webhook secret: a 5xx would have
  Zoom retry an endpoint that cannot succeed, and 404 would hide a fixable configuration gap.

The endpoint is a plain ASGI app rather than a ``Request -> Response`` function: on the hot
path it reads the four headers it needs in one pass and answers with pre-encoded headers,
which leaves more of the CPU budget for verifying and enqueueing.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from time import perf_counter

import structlog
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from receiver.body import BodyTooLarge, ClientDisconnect, read_body
from receiver.config import WebhookEndpoint
from receiver.runtime import ReceiverRuntime
from zoomq.runtime import QueueUnavailable
from zoomq.settings import DEFAULT_CONNECTION
from zoomq.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    MalformedWebhook,
    WebhookVerificationError,
    ZoomEvent,
    is_url_validation,
    parse_envelope,
    plain_token,
    sign,
    url_validation_response,
)

__all__ = ["REQUEST_ID_HEADER", "WebhookHandler", "webhook_routes"]

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "x-zm-request-id"
_CONTENT_LENGTH = "content-length"
# The only request headers the endpoint reads, by their raw (lower-case) ASGI names.
_WANTED = {
    name.encode("latin-1"): name
    for name in (_CONTENT_LENGTH, SIGNATURE_HEADER, TIMESTAMP_HEADER, REQUEST_ID_HEADER)
}


# The two success answers: body and headers pre-encoded (messages are rebuilt per request,
# since middleware may mutate them).
_QUEUED = b'{"status":"queued"}'
_DUPLICATE = b'{"status":"duplicate"}'
_JSON_HEADERS = {
    body: (b"content-type", b"application/json", str(len(body)).encode("ascii"))
    for body in (_QUEUED, _DUPLICATE)
}


async def _send_ok(send: Send, body: bytes) -> None:
    content_type, media, length = _JSON_HEADERS[body]
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(content_type, media), (b"content-length", length)],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _headers(scope: Scope) -> dict[str, str]:
    """The wanted request headers, in one pass over the raw list."""
    found: dict[str, str] = {}
    for key, value in scope["headers"]:
        name = _WANTED.get(key) or _WANTED.get(key.lower())
        if name is not None:
            found[name] = value.decode("latin-1")
    return found


def _log_failure(
    message: str,
    connection: str,
    headers: dict[str, str],
    *,
    level: int = logging.WARNING,
    correlation_id: str | None = None,
    **fields: str | None,
) -> None:
    # Failures only: a log line per success would cost more than the rest of the request.
    request_id = headers.get(REQUEST_ID_HEADER)
    with structlog.contextvars.bound_contextvars(
        correlation_id=correlation_id or request_id or "-", connection=connection
    ):
        log.log(level, message, request_id=request_id, **fields)


class WebhookHandler:
    """The webhook endpoint of one receiver runtime, as an ASGI app."""

    def __init__(self, runtime: ReceiverRuntime) -> None:
        self._dispatcher = runtime.dispatcher
        self._endpoints = runtime.endpoints
        self._metrics = runtime.metrics
        self._limit = runtime.config.max_body_bytes
        self._max_depth = runtime.config.max_depth
        self._rotating = runtime.config.secret_rotation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope.get("path_params", {}).get("connection", DEFAULT_CONNECTION)
        headers = _headers(scope)
        answer = await self._answer(name, headers, receive)
        if isinstance(answer, bytes):
            await _send_ok(send, answer)
        else:
            await answer(scope, receive, send)

    async def _answer(  # noqa: PLR0911 - one return per status code
        self, name: str, headers: dict[str, str], receive: Receive
    ) -> JSONResponse | bytes:
        """Verify, parse and enqueue; the success body, or the error response."""
        metrics = self._metrics
        endpoint = self._endpoints.get(name)
        if endpoint is None or endpoint.verifier is None:
            metrics.webhook("unknown_connection" if endpoint is None else "not_configured")
            if endpoint is None:
                return _error(404, "unknown connection")
            return _error(403, "endpoint not configured")
        try:
            body = await read_body(receive, headers.get(_CONTENT_LENGTH), self._limit)
        except BodyTooLarge:
            metrics.webhook("too_large")
            return _error(413, "body too large")
        except ClientDisconnect:
            metrics.webhook("disconnected")
            return _error(400, "client disconnected")
        try:
            endpoint.verifier.verify(body, headers)
        except WebhookVerificationError as exc:
            metrics.webhook("unauthorized")
            metrics.signature_failure(exc.reason)
            _log_failure(
                "webhook_unauthorized", name, headers, level=logging.INFO, reason=exc.reason
            )
            if exc.reason == "bad_signature" and self._rotating:
                return _error(503, exc.reason)  # signed with a secret not rolled out yet
            return _error(401, exc.reason)
        try:
            event = parse_envelope(body, self._max_depth)
        except MalformedWebhook as exc:
            metrics.webhook("malformed")
            _log_failure("webhook_malformed", name, headers, reason=exc.reason)
            return _error(400, exc.reason)
        if is_url_validation(event):  # answered only now: a signing oracle needs a signature
            return self._url_validation(endpoint, headers, event, body)
        # Enqueue: awaited here, not in a helper coroutine, so that the one suspension of
        # the request (waiting for Redis) goes through as few frames as possible.
        request_id = headers.get(REQUEST_ID_HEADER)
        correlation_id = request_id or secrets.token_hex(16)
        dispatcher = self._dispatcher
        event_name = event.event
        try:
            future = dispatcher.submit(name, event, body, request_id, correlation_id)
            # The parsed body is not needed while Redis works. Dropped now, its dicts and
            # lists do not count towards the cycle collector's next young collection.
            del event
            started = perf_counter()
            enqueued = await future
        except QueueUnavailable as exc:
            self._metrics.webhook("unavailable", event_name)
            _log_failure(
                "webhook_not_enqueued",
                name,
                headers,
                correlation_id=correlation_id,
                webhook_event=event_name,
                error=str(exc),
            )
            return _error(503, "queue unavailable")
        dispatcher.observe(enqueued, perf_counter() - started)
        if enqueued:
            self._metrics.webhook("enqueued", event_name)
            return _QUEUED
        self._metrics.webhook("duplicate", event_name)
        return _DUPLICATE

    def _url_validation(
        self, endpoint: WebhookEndpoint, headers: dict[str, str], event: ZoomEvent, body: bytes
    ) -> JSONResponse:
        try:
            token = plain_token(event)
        except MalformedWebhook as exc:
            self._metrics.webhook("malformed", event.event)
            return _error(400, exc.reason)
        self._metrics.webhook("url_validation", event.event)
        secret = _signing_secret(endpoint, headers, body)
        return JSONResponse(url_validation_response(secret, token))


def _error(status: int, error: str) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)


def _signing_secret(endpoint: WebhookEndpoint, headers: dict[str, str], body: bytes) -> str:
    """Which configured secret made this (already verified) signature: Zoom expects the
    encryptedToken keyed with the secret it signs with, and while rotating that may be any."""
    timestamp = headers.get(TIMESTAMP_HEADER, "").strip()
    signature = headers.get(SIGNATURE_HEADER, "").strip().encode("utf-8", "replace")
    for secret in endpoint.secrets:
        if hmac.compare_digest(sign(secret, timestamp, body).encode("ascii"), signature):
            return secret
    return endpoint.secrets[0]  # unreachable after a successful verify


def webhook_routes(runtime: ReceiverRuntime) -> list[Route]:
    """The endpoint's routes, each also with a trailing slash: Zoom does not follow the 307
    that Starlette would answer for it, so the event would be lost."""
    handler = WebhookHandler(runtime)
    return [
        Route("/webhooks/zoom", handler, methods=["POST"], name="zoom_webhook"),
        Route("/webhooks/zoom/", handler, methods=["POST"], name="zoom_webhook_slash"),
        Route(
            "/webhooks/zoom/{connection}",
            handler,
            methods=["POST"],
            name="zoom_webhook_connection",
        ),
        Route(
            "/webhooks/zoom/{connection}/",
            handler,
            methods=["POST"],
            name="zoom_webhook_connection_slash",
        ),
    ]
