"""``zoomq.jobs.callback``: a finished job's completion callback (``zoomq.jobs.callback``).

Signature: ``(job_id: str, meta: dict | None = None)``, sent once per completion by the
core (``JOB_CALLBACK_TASK``, on the ``bulk`` queue) when the job has a ``callback_url``.
The task is thin: ``zoomq.jobs.callback.deliver`` signs and sends; ``ZoomqTask`` maps its
errors to the queue's retry table (a refused URL gives up, no or a non-2xx answer backs
off). A redelivered task (a worker died after the POST) finds the completion's marker and
sends nothing; one killed between the POST and the marker sends the same ``webhook-id``
again, which a receiver deduplicates on: at least once on the wire, once in effect.
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import Celery

from tasks.base import ZoomqTask
from tasks.runtime import Runtime, get_runtime
from zoomq.errors import ConfigurationError
from zoomq.jobs.callback import CallbackHosts, deliver, webhook_id
from zoomq.jobs.models import JobStatus
from zoomq.runtime.jobs import JobStore
from zoomq.runtime.names import JOB_CALLBACK_TASK

__all__ = ["callback_marker", "register", "send_callback"]

log = structlog.get_logger("zoomq.tasks")

_FINISHED = (JobStatus.COMPLETED, JobStatus.CANCELLED)


def callback_marker(runtime: Runtime, job_id: str, msg_id: str) -> str:
    """The key that records one completion's callback as delivered."""
    return runtime.keys("jobs", job_id, "callback", msg_id)


def send_callback(runtime: Runtime, job_id: str) -> dict[str, Any]:
    """The task's body: deliver ``job_id``'s completion callback unless already delivered."""
    config = runtime.settings.jobs
    store = JobStore(runtime.redis, keys=runtime.keys, retention=config.retention)
    view = store.get(job_id)
    if view is None:
        log.info("jobs.callback.no_job", job_id=job_id)
        return {"status": "gone", "job_id": job_id}
    if view.status not in _FINISHED or view.finished_at is None or not view.callback_url:
        # Retried items made it run again: its next completion sends its own callback.
        return {"status": "skipped", "job_id": job_id, "job_status": str(view.status)}
    if config.callback_secret is None:
        raise ConfigurationError("ZOOMQ_JOB_CALLBACK_SECRET is not set: callbacks are signed")
    msg_id = webhook_id(view)
    marker = callback_marker(runtime, job_id, msg_id)
    if runtime.redis.exists(marker):
        return {"status": "already_delivered", "job_id": job_id, "webhook_id": msg_id}
    hosts = CallbackHosts.parse(config.callback_hosts)
    sent = deliver(view, hosts, config.callback_secret.get_secret_value())
    runtime.redis.set(marker, "1", ex=config.retention)
    log.info("jobs.callback.delivered", job_id=job_id, **sent)
    return {"status": "delivered", "job_id": job_id, **sent}


def register(app: Celery) -> ZoomqTask:
    def callback(self: ZoomqTask, job_id: str, meta: dict[str, Any] | None = None) -> Any:
        """POST the finished job's signed completion callback."""
        del meta
        structlog.contextvars.bind_contextvars(job_id=job_id)
        return send_callback(get_runtime(self.app), job_id)

    task: ZoomqTask = app.task(name=JOB_CALLBACK_TASK, base=ZoomqTask, bind=True, shared=False)(
        callback
    )
    return task
