"""The names of zoomq's Celery tasks and queues, written once.

Processes that do not import the tasks (the receiver, other services speaking Celery)
send by these names; the worker registers its tasks and routes under the same ones.
"""

from __future__ import annotations

__all__ = [
    "ACTIONS_QUEUE",
    "BULK_QUEUE",
    "DOWNLOADS_QUEUE",
    "DOWNLOAD_FILE_TASK",
    "EVENTS_QUEUE",
    "EVENT_TASK",
    "JOB_CALLBACK_TASK",
    "QUEUES",
    "RUN_CHUNK_TASK",
    "RUN_TASK",
    "action_task_name",
]

#: One Zoom event in; one automation run out per automation that matches it.
EVENT_TASK = "zoomq.events.handle"
#: One automation run over one event.
RUN_TASK = "zoomq.automations.run"
#: One recording file into the archive (on the ``downloads`` queue, id ``dl-<file id>``).
DOWNLOAD_FILE_TASK = "zoomq.downloads.file"

#: Some items of one bulk job: ``(job_id: str, indexes: list[int])`` on the ``bulk`` queue.
RUN_CHUNK_TASK = "zoomq.jobs.run_chunk"
#: A finished job's completion callback: ``(job_id: str,)`` on the ``bulk`` queue.
JOB_CALLBACK_TASK = "zoomq.jobs.callback"

EVENTS_QUEUE = "events"
ACTIONS_QUEUE = "actions"
DOWNLOADS_QUEUE = "downloads"
BULK_QUEUE = "bulk"
QUEUES = (EVENTS_QUEUE, ACTIONS_QUEUE, DOWNLOADS_QUEUE, BULK_QUEUE)


def action_task_name(key: str) -> str:
    """The task that runs one catalog action, e.g. ``zoomq.actions.getUser``."""
    return f"zoomq.actions.{key}"
