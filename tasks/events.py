"""``zoomq.events.handle``: one Zoom event in, one run per matching automation out."""

from __future__ import annotations

from typing import Any

import structlog
from celery import Celery

from tasks.base import ZoomqTask, safe_repr
from tasks.runtime import get_runtime
from zoomq.automations import dispatch_event
from zoomq.runtime.idempotency import event_key
from zoomq.runtime.names import EVENT_TASK, RUN_TASK

__all__ = ["handle", "register"]


log = structlog.get_logger("zoomq.tasks")


def handle(self: ZoomqTask, event: dict[str, Any], meta: dict[str, Any] | None = None) -> Any:
    """Dispatch ``event`` to its automations; each run's task id is its idempotency key."""
    runtime = get_runtime(self.app)
    meta = meta or {}
    structlog.contextvars.bind_contextvars(
        zoom_event_type=event.get("event"), dedup_key=event_key(event, meta)
    )
    # Debug only; the redact processor strips tokens (download_token and the like).
    log.debug("event.received", zoom_event=event, meta=meta)

    def enqueue(automation: str, key: str, child: dict[str, Any]) -> None:
        child["event_task_id"] = self.request.id
        args, kwargs = [event, automation], {"meta": child}
        self.app.send_task(
            RUN_TASK,
            args=args,
            kwargs=kwargs,
            task_id=key,
            argsrepr=safe_repr(args),
            kwargsrepr=safe_repr(kwargs),
        )

    report = dispatch_event(event, meta, runtime.automations, runtime.store, enqueue)
    log.info("event.dispatched", sent=report.sent, skipped=report.skipped)
    return report.to_dict()


def register(app: Celery) -> ZoomqTask:
    return app.task(name=EVENT_TASK, base=ZoomqTask, bind=True, shared=False)(handle)
