"""From a verified webhook to a Celery task message on the events queue, deduplicated."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from receiver.metrics import ReceiverMetrics
from zoomq.clock import Clock
from zoomq.runtime import (
    BatchEnqueuer,
    QueueUnavailable,
    RawJSON,
    build_task_message,
    origin_nodename,
)
from zoomq.runtime.keys import Keys
from zoomq.runtime.names import EVENT_TASK
from zoomq.settings import DEFAULT_CONNECTION, ReceiverSettings
from zoomq.webhooks import ZoomEvent, dedup_key

__all__ = ["EventDispatcher", "event_task_id"]


def event_task_id(connection: str, key: str) -> str:
    """The Celery task id of an event: the same for every delivery of it.

    ``key`` is ``dedup_key(event, body)`` (``evt:<event>:<sha256 of body>``). A connection
    other than the default is named in the id, because two Zoom apps on one account can
    send byte-identical bodies that are distinct deliveries to distinct automations.
    """
    digest = key.rpartition(":")[2]
    if connection == DEFAULT_CONNECTION:
        return f"evt-{digest}"
    return f"evt-{connection}-{digest}"


def _quote(text: str) -> bytes:
    return json.encoder.encode_basestring_ascii(text).encode("ascii")


def _embeddable(body: bytes) -> bool:
    # The body parsed as a JSON object. Spliced into the Celery message as-is it must also be
    # strict UTF-8 for the worker's decoder: no BOM (starts with "{"), no UTF-16/32 (a valid
    # UTF-8 JSON text has no NUL byte), no encoded surrogates (strict decode).
    if body[:1] != b"{" or b"\x00" in body:
        return False
    if body.isascii():
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class EventDispatcher:
    """Builds the ``zoomq.events.handle`` message for an event and enqueues it once."""

    def __init__(
        self, config: ReceiverSettings, keys: Keys, clock: Clock, metrics: ReceiverMetrics
    ) -> None:
        #: Set while the app runs (the lifespan starts it); without it nothing is accepted.
        self.enqueuer: BatchEnqueuer | None = None
        self._config = config
        self._clock = clock
        self._metrics = metrics
        self._seen_prefix = f"{keys.seen}:"
        self._origin = origin_nodename()

    def message(
        self,
        connection: str,
        event: ZoomEvent,
        body: bytes,
        key: str,
        request_id: str | None,
        correlation_id: str,
    ) -> tuple[str, bytes]:
        """The task id and the Celery message for one delivery."""
        task_id = event_task_id(connection, key)
        # kwargs {"meta": {...}} written directly: on the hot path this is a good share
        # cheaper than json.dumps of the dict plus its repr for kwargsrepr.
        kwargs = RawJSON(
            b'{"meta":{"connection":%b,"received_at":%b,"correlation_id":%b,'
            b'"dedup_key":%b,"request_id":%b}}'
            % (
                _quote(connection),
                repr(self._clock.time()).encode("ascii"),
                _quote(correlation_id),
                _quote(key),
                b"null" if request_id is None else _quote(request_id),
            )
        )
        arg: Any = RawJSON(body) if _embeddable(body) else event.raw
        message = build_task_message(
            EVENT_TASK,
            [arg],
            kwargs,
            task_id,
            self._config.events_queue,
            # What logs and monitors show instead of the payload, which may hold a
            # download_token and personal data.
            argsrepr=f"[<{event.event} event, {len(body)} bytes>]",
            origin=self._origin,
        )
        return task_id, message

    def submit(
        self,
        connection: str,
        event: ZoomEvent,
        body: bytes,
        request_id: str | None,
        correlation_id: str,
    ) -> asyncio.Future[bool]:
        """Start enqueueing the event unless this connection already enqueued the same body.

        The future says True once enqueued, False for a duplicate, or raises
        ``QueueUnavailable`` when Redis did not confirm in time; so does this call when
        nothing can be accepted. ``observe`` then records the outcome. (A plain method: the
        request awaits the writer's future itself, one suspension through fewer frames.)
        """
        enqueuer = self.enqueuer
        if enqueuer is None:
            raise QueueUnavailable("the receiver is not started")
        key = dedup_key(event, body)
        task_id, message = self.message(connection, event, body, key, request_id, correlation_id)
        return enqueuer.submit(
            self._config.events_queue,
            message,
            dedup_key=f"{self._seen_prefix}{connection}:{key}",
            ttl=self._config.dedup_ttl,
            task_id=task_id,
        )

    def observe(self, enqueued: bool, seconds: float) -> None:
        """Count a confirmed submission that waited ``seconds`` for Redis."""
        self._metrics.observe_enqueue(seconds)
        if not enqueued:
            self._metrics.dedup_hits += 1
