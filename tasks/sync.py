"""``zoomq.downloads.sync``: reconcile one connection's recordings with the archive.

Signature: ``(connection: str, start: str, end: str, meta: dict | None = None)``, dates as
``yyyy-mm-dd``. Sent by the worker's ``SyncScheduler`` (and by anyone, by name). It walks
Zoom's listings (``zoomq.archive.sync.reconcile``) and sends one ``zoomq.downloads.file``
per missing file, task id ``dl-<file_id>``: the downloads run on the ``downloads`` queue
with their own concurrency, behind the per-file lock, and the sync itself stays short.

Two syncs of one connection never overlap: a second one finding the connection's lock
taken returns ``{"status": "busy"}`` (the running one covers the same files).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import structlog
from celery import Celery
from redis.exceptions import LockError

from tasks.base import ZoomqTask, safe_repr
from tasks.downloads import download_task_id
from tasks.runtime import get_runtime
from zoomq.archive.files import RecordingFile
from zoomq.archive.sync import reconcile
from zoomq.errors import InvalidInput
from zoomq.runtime.names import DOWNLOAD_FILE_TASK

__all__ = ["SYNC_LOCK_TIMEOUT", "SYNC_TASK", "register", "run_sync", "sync_lock_key"]

log = structlog.get_logger("zoomq.tasks")

SYNC_TASK = "zoomq.downloads.sync"

#: How long one sync may hold its connection's lock before another may start (s): a
#: sync only lists and enqueues, minutes at most even for a large account.
SYNC_LOCK_TIMEOUT = 3600


def sync_lock_key(prefix: str, connection: str) -> str:
    """The lock that keeps two syncs of one connection from running at once."""
    return f"{prefix}:archive:sync:{connection}"


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        message = f"expected a date as yyyy-mm-dd, got {value!r}"
        raise InvalidInput(f"{name}: {message}", [{"field": name, "message": message}]) from None


def run_sync(
    task: ZoomqTask, connection: str, start: str, end: str, meta: dict[str, Any] | None
) -> dict[str, Any]:
    """The task's body: one reconcile under the connection's lock, files sent as tasks."""
    runtime = get_runtime(task.app)
    first, last = _day(start, "start"), _day(end, "end")
    correlation = (meta or {}).get("correlation_id") or task.request.id
    lock = runtime.redis.lock(
        sync_lock_key(runtime.settings.zoomq_key_prefix, connection),
        timeout=SYNC_LOCK_TIMEOUT,
        blocking=False,
    )
    if not lock.acquire():
        log.info("archive.sync.busy", start=start, end=end)
        return {"status": "busy", "connection": connection}

    def enqueue(f: RecordingFile) -> None:
        args = [f.to_dict(), connection]
        kwargs = {"meta": {"connection": connection, "correlation_id": correlation}}
        task.app.send_task(
            DOWNLOAD_FILE_TASK,
            args=args,
            kwargs=kwargs,
            task_id=download_task_id(f),
            argsrepr=safe_repr(args),
            kwargsrepr=safe_repr(kwargs),
        )

    try:
        report = reconcile(
            runtime.archiver(),
            runtime.client(connection),
            connection=connection,
            start=first,
            end=last,
            enqueue=enqueue,
        )
    finally:
        try:
            lock.release()
        except LockError:  # expired meanwhile: another sync may already hold it
            log.warning("archive.sync.lock_lost", timeout=SYNC_LOCK_TIMEOUT)
    return {"status": "done", **report.to_dict()}


def register(app: Celery) -> ZoomqTask:
    def sync(
        self: ZoomqTask,
        connection: str,
        start: str,
        end: str,
        meta: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Archive what Zoom lists from ``start`` to ``end`` that storage lacks."""
        return run_sync(self, connection, start, end, meta)

    task: ZoomqTask = app.task(name=SYNC_TASK, base=ZoomqTask, bind=True, shared=False)(sync)
    return task
