"""``ZoomqTask``: the base of every zoomq task, and the one place queue retries happen.

At entry it binds the log context (task id, task, correlation id, connection, attempt);
when the task raises, ``tasks.policy.decide`` says what to do and this class does it:
a Celery retry with a countdown, parking (``zoomq.runtime.parking``) or the dead-letter store
(``zoomq.runtime.dlq``).
"""

from __future__ import annotations

import inspect
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from celery import Task
from celery.exceptions import Ignore, Reject, Retry
from redis import RedisError

from tasks.policy import Decision, GiveUp, Park, RetryLater, counts_against_budget, decide
from tasks.runtime import get_runtime
from zoomq.errors import ZoomError
from zoomq.logs import redact
from zoomq.runtime.message import TaskMessage

__all__ = ["ZoomqTask", "describe_error", "safe_repr", "task_meta"]

log = structlog.get_logger("zoomq.tasks")


def describe_error(exc: BaseException) -> dict[str, Any]:
    """A JSON-safe description, redacted: ``ZoomError.to_dict()``, else type and message.

    It is logged and kept in the dead-letter store, so URL tokens are scrubbed here.
    """
    found = exc.to_dict() if isinstance(exc, ZoomError) else {}
    error = found or {"type": type(exc).__name__, "message": str(exc)}
    scrubbed: dict[str, Any] = redact(None, "", {"error": error})["error"]
    return scrubbed


def safe_repr(value: Any, limit: int = 1024) -> str:
    """A repr for Celery's ``argsrepr``/``kwargsrepr`` with secrets redacted.

    Celery shows these (worker logs, ``inspect``, Flower) instead of the arguments.
    """
    text = repr(redact(None, "", {"value": value})["value"])
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _counts(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): int(v) for k, v in value.items() if isinstance(v, int)}


def task_meta(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    meta = kwargs.get("meta")
    return dict(meta) if isinstance(meta, Mapping) else {}


class ZoomqTask(Task[Any, Any]):
    """Log context at entry; on error, retry later, park or dead-letter — never loop here."""

    #: ``tasks.policy.decide`` owns the budgets; Celery's own limit is off.
    max_retries = None
    acks_late = True
    reject_on_worker_lost = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request = self.request
        named = self._bound(args, kwargs)
        meta = task_meta(named)
        connection = named.get("connection") or meta.get("connection")
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            task_id=request.id,
            task=self.name,
            correlation_id=meta.get("correlation_id") or request.id,
            connection=connection,
            attempt=(request.retries or 0) + 1,
        )
        try:
            # Not super().__call__: that pushes a fresh request and hides the id and retries.
            return self.run(*args, **kwargs)
        except (Retry, Reject, Ignore):
            raise
        except Exception as exc:
            return self.handle_error(exc, args, kwargs)
        finally:
            structlog.contextvars.clear_contextvars()

    def _bound(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Every argument by name, however it was passed."""
        try:
            bound = inspect.signature(self.run).bind_partial(*args, **kwargs)
        except TypeError:
            return dict(kwargs)
        return dict(bound.arguments)

    def _with_meta(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], meta: dict[str, Any]
    ) -> tuple[list[Any], dict[str, Any]]:
        """The arguments again, with ``meta`` replaced, in the shape the task was sent."""
        # Names stay names: a keyword such as download_token, made positional, would lose
        # the name that redaction knows it by (in dead letters and reprs).
        names = list(inspect.signature(self.run).parameters)
        position = names.index("meta") if "meta" in names else len(args)
        if position < len(args) and "meta" not in kwargs:
            return [*args[:position], meta, *args[position + 1 :]], dict(kwargs)
        return list(args), {**kwargs, "meta": meta}

    def handle_error(self, exc: Exception, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Apply the queue's decision for ``exc``; returns a summary unless it retries."""
        failure = self._failure(exc, args, kwargs)
        if isinstance(failure.decision, RetryLater):
            return self._retry_later(failure, failure.decision)
        if isinstance(failure.decision, Park):
            return self._park(failure, failure.decision)
        return self._dead_letter(failure, failure.decision)

    def _failure(self, exc: Exception, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Failure:
        """The decision for ``exc``, and the message to retry, park or dead-letter."""
        request = self.request
        now = time.time()
        retries = request.retries or 0
        named = self._bound(args, kwargs)
        meta = task_meta(named)
        # Counts by reason ride in meta; a message sent afresh (retries 0: new, or replayed
        # from the dead letters) starts with none.
        counts = _counts(meta.get("retry_counts")) if retries else {}
        decision = decide(exc, counts, get_runtime(self.app).config, now)
        meta.setdefault("first_attempt_at", now)
        budgeted = counts_against_budget(decision)
        if budgeted:
            counts[decision.reason] = counts.get(decision.reason, 0) + 1
        meta["retry_counts"] = counts
        new_args, new_kwargs = self._with_meta(args, kwargs, meta)
        delivery = request.delivery_info or {}
        queue = delivery.get("routing_key") if isinstance(delivery, Mapping) else None
        message = TaskMessage(
            name=self.name,
            args=new_args,
            kwargs=new_kwargs,
            task_id=str(request.id),
            # A parked wait on a budget comes back as a retry, so its counts are kept.
            attempts=retries + 1 if budgeted and isinstance(decision, Park) else retries,
            queue=queue if isinstance(queue, str) and queue else None,
        )
        error = describe_error(exc)
        fields: dict[str, Any] = {"error": error, "reason": decision.reason}
        if not isinstance(exc, ZoomError):
            # As a field, so the redact processor sees the text (exc_info would bypass it).
            fields["traceback"] = "".join(traceback.format_exception(exc))
        connection = named.get("connection") or meta.get("connection")
        return _Failure(
            exc=exc,
            decision=decision,
            message=message,
            meta=meta,
            error=error,
            fields=fields,
            now=now,
            connection=connection if isinstance(connection, str) else None,
        )

    def _retry_later(self, failure: _Failure, decision: RetryLater) -> Any:
        """A Celery retry after the countdown; put back if the retry copy cannot be sent."""
        log.warning("task.retry", countdown=round(decision.countdown, 3), **failure.fields)
        message = failure.message
        # Passed through to apply_async (the type stubs do not list them).
        reprs: dict[str, Any] = {
            "argsrepr": safe_repr(message.args),
            "kwargsrepr": safe_repr(message.kwargs),
        }
        try:
            raise self.retry(
                args=tuple(message.args),
                kwargs=message.kwargs,
                countdown=decision.countdown,
                exc=failure.exc,
                **reprs,
            )
        except Reject as rejected:
            # Celery could not send the retry copy and would drop the message
            # (requeue=False): put it back instead, to run again.
            # (celery-types does not declare Reject's attributes.)
            if getattr(rejected, "requeue", False):
                raise
            log.error("task.retry_send_failed", **failure.fields)  # noqa: TRY400 - see task.requeued
            raise Reject(getattr(rejected, "reason", None), requeue=True) from failure.exc

    def _park(self, failure: _Failure, decision: Park) -> dict[str, Any]:
        """Park the message until ``due_at``; the scheduler sends it again then."""
        with _requeue_unless_stored(failure):
            parking = get_runtime(self.app).parking
            parking.park(
                failure.message, decision.due_at, {**failure.error, "why": decision.reason}
            )
        log.warning("task.parked", due_in=round(decision.due_at - failure.now, 3), **failure.fields)
        return {"status": "parked", "due_at": decision.due_at}

    def _dead_letter(self, failure: _Failure, decision: GiveUp) -> dict[str, Any]:
        """Keep the message and its error in the dead-letter store, for replay."""
        with _requeue_unless_stored(failure):
            entry = get_runtime(self.app).dlq.add(
                failure.message,
                failure.error,
                connection=failure.connection,
                attempts=failure.message.attempts + 1,
                first_at=float(failure.meta["first_attempt_at"]),
            )
        log.error("task.dead_lettered", dlq_id=entry.id, attempts=entry.attempts, **failure.fields)
        return {"status": "dead_lettered", "id": entry.id}


@dataclass(frozen=True)
class _Failure:
    """A task's error with what the queue decided and the message to act on."""

    exc: Exception
    decision: Decision
    message: TaskMessage
    meta: dict[str, Any]
    error: dict[str, Any]
    fields: dict[str, Any]
    now: float
    connection: str | None


@contextmanager
def _requeue_unless_stored(failure: _Failure) -> Iterator[None]:
    """Cannot park or dead-letter: put the message back rather than lose it."""
    try:
        yield
    except RedisError as store_exc:
        # No exc_info (log.exception): its text would bypass the redact processor.
        log.error("task.requeued", store_error=type(store_exc).__name__, **failure.fields)  # noqa: TRY400
        raise Reject(store_exc, requeue=True) from failure.exc
