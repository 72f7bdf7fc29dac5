"""Worker signals: logging at process start, a fresh runtime per forked child, the
parked-task scheduler in the main process, and a clean shutdown.

Signals are process-wide: ``connect`` is called only where a zoomq worker runs, and every
handler leaves apps without a zoomq runtime alone.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog
from celery import Celery
from celery._state import get_current_app
from celery.signals import (
    setup_logging,
    task_postrun,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)

from tasks.runtime import Runtime, get_runtime
from worker.logconfig import setup_worker_logging
from worker.scheduler import ParkingScheduler
from zoomq.errors import ConfigurationError

__all__ = ["connect"]

log = structlog.get_logger("zoomq.worker")


def _app(sender: Any) -> Celery:
    app = getattr(sender, "app", None)
    return app if isinstance(app, Celery) else get_current_app()


def _runtime(app: Celery) -> Runtime | None:
    try:
        return get_runtime(app)
    except ConfigurationError:
        return None


def _setup_logging(loglevel: Any = None, **_: Any) -> None:
    # Handling this signal stops Celery from configuring logging itself.
    runtime = _runtime(get_current_app())
    if runtime is None:  # not zoomq's app: plain logging, as Celery would
        logging.basicConfig(level=loglevel or logging.WARNING)
        return
    settings = runtime.settings
    setup_worker_logging(settings.zoomq_log_format, loglevel or settings.zoomq_log_level)


def _process_init(**_: Any) -> None:
    runtime = _runtime(get_current_app())
    if runtime is not None:
        runtime.after_fork()


def _ready(sender: Any = None, **_: Any) -> None:
    from worker.app import send_message

    app = _app(sender)
    runtime = _runtime(app)
    if runtime is None:
        return
    if runtime.scheduler is None:
        runtime.scheduler = ParkingScheduler(
            runtime.parking,
            lambda message: send_message(app, message),
            interval=runtime.config.scheduler_interval,
            ledger=runtime.ledger,
            ledger_grace=runtime.config.visibility_timeout,
        ).start()
    log.info("worker.ready", automations=len(runtime.automations))


def _shutdown(sender: Any = None, **_: Any) -> None:
    runtime = _runtime(_app(sender))
    if runtime is None:
        return
    if isinstance(runtime.scheduler, ParkingScheduler):
        runtime.scheduler.stop()
        runtime.scheduler = None
    runtime.close()


def connect() -> None:
    """Connect the handlers once per process (``dispatch_uid`` makes it idempotent)."""
    setup_logging.connect(_setup_logging, weak=False, dispatch_uid="zoomq.setup_logging")
    worker_process_init.connect(_process_init, weak=False, dispatch_uid="zoomq.process_init")
    worker_ready.connect(_ready, weak=False, dispatch_uid="zoomq.worker_ready")
    worker_shutdown.connect(_shutdown, weak=False, dispatch_uid="zoomq.worker_shutdown")
    task_postrun.connect(_finished, weak=False, dispatch_uid="zoomq.task_finished")


#: Task states after which a message is finished with (a retry is a new message).
_FINAL = frozenset({"SUCCESS", "FAILURE", "IGNORED"})


def _finished(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    """The task is done with its message: drop it from the ledger."""
    if task_id is None or state not in _FINAL:
        return
    runtime = _runtime(_app(task))
    if runtime is None:
        return
    try:
        runtime.ledger.done(task_id)
    except Exception as exc:  # the ledger re-sends it later; the done record makes that a no-op
        log.warning("ledger.done_failed", task_id=task_id, error=type(exc).__name__)
