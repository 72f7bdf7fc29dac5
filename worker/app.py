"""zoomq's Celery app: ``create_celery(settings)``, and ``app`` for ``celery -A worker.app``.

Configured for at-least-once work: late acks, re-queue when a worker dies, one message
prefetched per slot, JSON only, and a Redis visibility timeout longer than any task may
run (past it, Redis hands an unacknowledged task out again). Queues: ``events``,
``actions`` (the default), ``downloads`` and ``bulk``.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from celery import Celery
from celery.utils import uuid
from kombu import Exchange, Queue

from tasks import register_tasks
from tasks.base import safe_repr
from tasks.runtime import Runtime, get_runtime, install_runtime
from worker.broker import transport_for
from zoomq.redis_client import celery_broker
from zoomq.runtime.message import TaskMessage
from zoomq.runtime.names import QUEUES
from zoomq.settings import Settings

__all__ = ["QUEUES", "ZoomqCelery", "create_celery", "get_app", "send_message"]


TASK_ROUTES = {
    "zoomq.events.*": {"queue": "events"},
    "zoomq.actions.*": {"queue": "actions"},
    "zoomq.automations.*": {"queue": "actions"},
    "zoomq.downloads.*": {"queue": "downloads"},
    "zoomq.jobs.*": {"queue": "bulk"},
}


class ZoomqCelery(Celery):
    """Celery that writes every zoomq task message to the ledger before sending it.

    Every send goes through ``send_task`` (``apply_async`` and ``retry`` too), so the ledger
    (``zoomq.runtime.ledger``) holds each message until its task has finished, whoever sent it.
    """

    def send_task(self, name: str, *args: Any, **options: Any) -> Any:
        if name.startswith("zoomq."):
            options["task_id"] = options.get("task_id") or uuid()
            self._record(name, args, options)
        return super().send_task(name, *args, **options)

    def _record(self, name: str, args: tuple[Any, ...], options: dict[str, Any]) -> None:
        runtime = get_runtime(self)
        call_args = options.get("args", args[0] if args else None)
        call_kwargs = options.get("kwargs", args[1] if len(args) > 1 else None)
        delay = float(options.get("countdown") or 0)
        eta = options.get("eta")
        if eta is not None:
            delay = max(delay, eta.timestamp() - time.time())
        message = TaskMessage(
            name=name,
            args=list(call_args or []),
            kwargs=dict(call_kwargs or {}),
            task_id=str(options["task_id"]),
            attempts=int(options.get("retries") or 0),
            queue=options.get("queue") if isinstance(options.get("queue"), str) else None,
        )
        runtime.ledger.record(message, time.time() + delay)


def create_celery(settings: Settings, *, runtime: Runtime | None = None) -> Celery:
    """A Celery app on ``settings.redis_url`` with zoomq's tasks (and its runtime attached).

    Worker signals are connected by the worker's edge (``get_app``, ``zoomq worker``), not
    here: they are process-wide, and a process that only sends must not get them.
    """
    rt = runtime or Runtime(settings)
    config = rt.config
    broker_url, broker_options = celery_broker(settings)
    app = ZoomqCelery("zoomq", broker=broker_url)
    app.conf.update(
        # kombu's Redis transport, with a lost connection kept recoverable (worker.broker).
        broker_transport=transport_for(broker_url),
        broker_transport_options={
            **broker_options,
            "visibility_timeout": config.visibility_timeout,
            # Sweep for messages a dead worker left unacknowledged often enough that they
            # come back soon after the visibility timeout (kombu's default is ~100 s).
            "unacked_restore_interval": max(1, min(10, config.visibility_timeout // 10)),
            "unacked_restore_throttle": 1,
            # A worker killed during a sweep leaves kombu's restore mutex held until it
            # expires (300 s by default): nothing is restored meanwhile.
            "unacked_mutex_expire": max(5, min(300, config.visibility_timeout // 2)),
        },
        broker_connection_retry_on_startup=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_time_limit=config.task_time_limit,
        task_soft_time_limit=config.task_soft_time_limit,
        # Each queue its own direct exchange and routing key: otherwise every queue is bound
        # to the default exchange under the default key, and the banner (and any broker
        # that honours bindings) sees four copies of one route.
        task_queues=[
            Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES
        ],
        task_default_queue="actions",
        task_routes=TASK_ROUTES,
        task_create_missing_queues=True,
        worker_hijack_root_logger=False,
        # Dead-letters a message Celery would drop: undecodable, refused, or an unknown task.
        worker_consumer="worker.consumer:DeadLetteringConsumer",
        enable_utc=True,
        timezone="UTC",
    )
    register_tasks(app)
    install_runtime(app, rt)
    return app


def send_message(app: Celery, message: TaskMessage) -> None:
    """Send a stored message (parked, dead-lettered) again, with its id and attempts."""
    options: dict[str, Any] = {}
    if message.queue:
        options["queue"] = message.queue
    app.send_task(
        message.name,
        args=message.args,
        kwargs=message.kwargs,
        task_id=message.task_id,
        retries=message.attempts,
        argsrepr=safe_repr(message.args),
        kwargsrepr=safe_repr(message.kwargs),
        **options,
    )


@cache
def get_app() -> Celery:
    """The worker process's app, from the environment, with the worker signals connected.

    Automations are loaded (and checked) now: a bad rules file stops the worker at start.
    """
    from worker import signals

    app = create_celery(Settings())
    _ = get_runtime(app).automations
    signals.connect()
    return app


def __getattr__(name: str) -> Any:
    # ``celery -A worker.app`` looks up ``app`` here; it is built on first access only.
    if name == "app":
        return get_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
