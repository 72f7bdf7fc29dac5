"""``zoomq.automations.run``: one automation for one event, its steps run once each."""

from __future__ import annotations

from typing import Any

import structlog
from celery import Celery

from tasks.base import ZoomqTask
from tasks.runtime import get_runtime
from zoomq.automations import AutomationContext, run_automation
from zoomq.runtime.names import RUN_TASK
from zoomq.runtime.steps import attempt_owner

__all__ = ["register", "run"]


log = structlog.get_logger("zoomq.tasks")


def run(
    self: ZoomqTask,
    event: dict[str, Any],
    automation: str,
    meta: dict[str, Any] | None = None,
) -> Any:
    """Run the automation named ``automation``; the task id is the run's idempotency key."""
    runtime = get_runtime(self.app)
    meta = meta or {}
    structlog.contextvars.bind_contextvars(
        automation=automation, zoom_event_type=event.get("event")
    )
    auto = runtime.automations.get(automation)
    run_key = str(meta.get("idempotency_key") or self.request.id)
    ctx = AutomationContext(
        automation=automation,
        run_key=run_key,
        meta=meta,
        clients=runtime.client,
        store=runtime.store,
        owner=attempt_owner(self.request.id, self.request.retries),
        lease=runtime.config.step_lease,
    )
    run_automation(auto, event, ctx)
    steps = [{"action": s.action, "replayed": s.replayed} for s in ctx.steps]
    log.info("automation.done", steps=steps)
    return {"status": "done", "automation": automation, "steps": steps}


def register(app: Celery) -> ZoomqTask:
    return app.task(name=RUN_TASK, base=ZoomqTask, bind=True, shared=False)(run)
