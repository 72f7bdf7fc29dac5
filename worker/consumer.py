"""The worker's Celery consumer: a message it cannot run is dead-lettered, never just dropped.

Celery's own consumer logs and acknowledges a message whose body it cannot decode
(``on_decode_error``), and logs and rejects one whose task it does not know
(``on_unknown_task``), whose content it refuses (``on_invalid_task``) or that is no task
message at all (``on_unknown_message``); on Redis either way the message is gone. This one
first writes it to the dead-letter store (``zoomq dlq list``):

- undecodable, refused or no task: the raw message (body as text, headers, properties, the
  error), for inspection; such an entry cannot be replayed as a task;
- unknown task (typically a receiver or sender newer than this worker): the task itself,
  decoded, so ``zoomq dlq replay`` runs it once a worker that knows it is deployed.

If the store cannot be written, the message goes back on its queue rather than being lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from celery import signals
from celery.worker.consumer import Consumer
from kombu.message import Message
from redis import RedisError

from tasks.runtime import get_runtime
from zoomq.runtime.dlq import DeadLetter, DeadLetterStore
from zoomq.runtime.message import TaskMessage

__all__ = ["DeadLetteringConsumer"]

log = structlog.get_logger(__name__)


def _task_message(message: Message, name: str) -> TaskMessage | None:
    """The decoded task of a protocol-2 message, or None if it does not decode."""
    try:
        args, kwargs, _embed = message.decode()
        return TaskMessage(
            name=name,
            args=list(args),
            kwargs=dict(kwargs),
            task_id=str(message.headers["id"]),
            attempts=int(message.headers.get("retries") or 0),
            queue=_queue(message),
        )
    except Exception:  # any failure means "keep it raw"
        return None


def _queue(message: Message) -> str | None:
    queue = (message.delivery_info or {}).get("routing_key")
    return queue if isinstance(queue, str) and queue else None


class DeadLetteringConsumer(Consumer):
    """Celery's consumer, dead-lettering what it would otherwise drop.

    Celery's own handlers log the whole message body ("full contents of the message
    body"), which carries the task's arguments and so Zoom's tokens and passcodes: these
    log one line without it, then acknowledge or reject as Celery does.
    """

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        if self._store_raw(message, exc, "undecodable"):
            message.ack()

    def on_invalid_task(self, body: Any, message: Message, exc: Exception) -> None:
        if self._store_raw(message, exc, "invalid"):
            self._reject(message, exc)

    def on_unknown_message(self, body: Any, message: Message) -> None:
        error = ValueError("not a Celery task message (no task header)")
        if self._store_raw(message, error, "unknown_message"):
            self._reject(message, None)

    def on_unknown_task(self, body: Any, message: Message, exc: Exception) -> None:
        name = str((message.headers or {}).get("task") or "")
        task = _task_message(message, name) if name and "id" in (message.headers or {}) else None
        if task is None:
            stored = self._store_raw(message, exc, "unknown_task")
        else:
            stored = self._store(
                message,
                lambda dlq: dlq.add(
                    task,
                    {"type": "NotRegistered", "message": f"no task {name!r} in this worker"},
                    connection=_connection(task),
                ),
                "unknown_task",
            )
        if stored:
            self._reject(message, exc)

    def _reject(self, message: Message, exc: Exception | None) -> None:
        message.reject_log_error(log, self._connection_errors())
        signals.task_rejected.send(sender=self, message=message, exc=exc)

    def _connection_errors(self) -> Any:
        # (celery-types does not declare the consumer's connection_errors.)
        return getattr(self, "connection_errors", ())

    def _store_raw(self, message: Message, exc: Exception, why: str) -> bool:
        return self._store(
            message,
            lambda dlq: dlq.add_undecodable(
                body=message.body,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                headers=message.headers,
                properties=message.properties,
                error=exc,
                queue=_queue(message),
            ),
            why,
        )

    def _store(
        self, message: Message, add: Callable[[DeadLetterStore], DeadLetter], why: str
    ) -> bool:
        """Write the entry; False (the message requeued) if Redis refused it.

        Once dead-lettered, the message's ledger record is dropped: it has been handled,
        and a ledger re-send would otherwise run it (re-encoded as JSON) while it sits in
        the dead-letter store.
        """
        runtime = get_runtime(self.app)
        try:
            entry = add(runtime.dlq)
        except RedisError as store_exc:
            log.error(  # noqa: TRY400 - no traceback: the message body may hold tokens
                "message.requeued", why=why, store_error=type(store_exc).__name__
            )
            message.reject_log_error(log, self._connection_errors(), requeue=True)
            return False
        task_id = (message.headers or {}).get("id")
        if task_id:
            try:
                runtime.ledger.started(str(task_id))
            except RedisError as ledger_exc:  # the entry is stored; a re-send is idempotent
                log.warning("ledger.drop_failed", task_id=task_id, error=type(ledger_exc).__name__)
        log.error(
            "message.dead_lettered",
            why=why,
            dlq_id=entry.id,
            task=entry.message.name,
            content_type=message.content_type,
        )
        return True


def _connection(task: TaskMessage) -> str | None:
    meta = task.kwargs.get("meta")
    connection = task.kwargs.get("connection") or (
        meta.get("connection") if isinstance(meta, dict) else None
    )
    return connection if isinstance(connection, str) else None
