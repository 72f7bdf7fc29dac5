"""One Celery task per catalog action: ``zoomq.actions.<key>``.

Signature: ``(input: dict, connection: str | None = None, meta: dict | None = None)``.
Actions with a side effect run under the step guard keyed by ``meta.idempotency_key``
(else the task id), so a redelivered message does not repeat them.

The return value is ``{"status": "done", "action", "replayed", "zoom": {...}}``: a few
identifying fields of Zoom's reply sit under ``zoom``, so Zoom's own ``status`` (a
registrant's "approved", a meeting's "waiting") never overwrites the task's.
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import Celery

from tasks.base import ZoomqTask
from tasks.runtime import get_runtime
from zoomq.actions import CATALOG
from zoomq.runtime.idempotency import summarize
from zoomq.runtime.names import action_task_name
from zoomq.runtime.steps import attempt_owner, run_step

__all__ = ["register", "run_action_task"]

log = structlog.get_logger("zoomq.tasks")


def run_action_task(
    task: ZoomqTask,
    key: str,
    data: dict[str, Any],
    connection: str | None,
    meta: dict[str, Any] | None,
) -> dict[str, Any]:
    """The body every action task shares: one step, guarded by ``run_step``."""
    runtime = get_runtime(task.app)
    meta = meta or {}
    conn = connection or meta.get("connection")
    conn = conn if isinstance(conn, str) else None
    structlog.contextvars.bind_contextvars(action=key)
    result, replayed = run_step(
        lambda: runtime.client(conn),
        key,
        data,
        store=runtime.store,
        key=str(meta.get("idempotency_key") or task.request.id),
        owner=attempt_owner(task.request.id, task.request.retries),
        lease=runtime.config.step_lease,
    )
    summary = summarize(key, result)
    log.info("action.skipped" if replayed else "action.done", **summary)
    # The data stays out of the return value: Celery logs it, and it may hold secrets.
    zoom = {name: value for name, value in summary.items() if name != "action"}
    return {"status": "done", "action": key, "replayed": replayed, "zoom": zoom}


def _make(app: Celery, key: str) -> ZoomqTask:
    def action(
        self: ZoomqTask,
        input: dict[str, Any],
        connection: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return run_action_task(self, key, input, connection, meta)

    action.__name__ = action.__qualname__ = key
    action.__doc__ = CATALOG[key].description
    return app.task(name=action_task_name(key), base=ZoomqTask, bind=True, shared=False)(action)


def register(app: Celery) -> dict[str, ZoomqTask]:
    """Register one task per catalog action on ``app``; returns them by action key."""
    return {key: _make(app, key) for key in CATALOG}
