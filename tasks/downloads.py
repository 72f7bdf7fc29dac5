"""``zoomq.downloads.file``: one recording file into the archive; and the built-in automation
that sends one such task per accepted file of a recording event.

The task is thin: ``Archiver.archive_file`` does the work, ``ZoomqTask`` maps its errors
(``FileLocked`` waits, ``IncompleteDownload`` backs off, ``DownloadRefused`` and
``RecordingGone`` give up). Its id is ``dl-<file id>``: a redelivered or repeated message
finds the file stored, or locked by the attempt still running.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from celery import Celery

from tasks.base import ZoomqTask, safe_repr
from tasks.runtime import get_runtime
from zoomq.archive.files import RecordingFile
from zoomq.archive.service import DOWNLOAD_HORIZON
from zoomq.automations import Automation, AutomationContext
from zoomq.errors import InvalidInput
from zoomq.runtime.names import DOWNLOAD_FILE_TASK, DOWNLOADS_QUEUE

__all__ = [
    "ARCHIVE_EVENTS",
    "DOWNLOAD_TIME_LIMIT",
    "builtin_automations",
    "download_task_id",
    "file",
    "register",
]

log = structlog.get_logger("zoomq.tasks")

#: The events whose files the built-in automation archives: Zoom sends a recording's late
#: files (the audio transcript, files still processing at the first event) in their own.
ARCHIVE_EVENTS = (
    "recording.completed",
    "recording.transcript_completed",
    "phone.recording_completed",
)
#: Long downloads outlive the queue's time limit (a 2 GiB file on a slow link); the file's
#: lock, not the broker, keeps a second worker away.
DOWNLOAD_TIME_LIMIT = DOWNLOAD_HORIZON


def download_task_id(f: RecordingFile) -> str:
    """The task id, and idempotency key, of one file's download."""
    return f"dl-{f.file_id}"


def file(
    self: ZoomqTask,
    file: dict[str, Any],
    connection: str,
    download_token: str | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Archive one recording file (``RecordingFile.to_dict()``) of ``connection``."""
    runtime = get_runtime(self.app)
    try:
        f = RecordingFile.from_dict({**file, "connection": connection})
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"not a recording file: {exc}") from exc
    structlog.contextvars.bind_contextvars(
        file_id=f.file_id, meeting_uuid=f.meeting_uuid, file_type=f.file_type
    )
    result = runtime.archiver().archive_file(f, download_token=download_token)
    return {"status": "skipped" if result.skipped else "stored", **result.to_dict()}


def register(app: Celery) -> ZoomqTask:
    return app.task(
        name=DOWNLOAD_FILE_TASK,
        base=ZoomqTask,
        bind=True,
        shared=False,
        time_limit=DOWNLOAD_TIME_LIMIT,
        soft_time_limit=DOWNLOAD_TIME_LIMIT - 60,
    )(file)


# -- the built-in automation -----------------------------------------------------------


def _recordings(event: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], bool]:
    """The recording objects of an event, and whether they are phone call recordings."""
    obj = (event.get("payload") or {}).get("object") or {}
    if str(event.get("event", "")).startswith("phone."):
        items = obj.get("recordings") or []
        return [r for r in items if isinstance(r, Mapping)], True
    return [obj], False


def builtin_automations(app: Celery) -> list[Automation]:
    """One automation per archive event (``ZOOMQ_ARCHIVE_ENABLED``), sending its files."""

    def archive(event: dict[str, Any], ctx: AutomationContext) -> dict[str, Any]:
        runtime = get_runtime(app)
        connection = ctx.connection or "default"
        token = event.get("download_token")
        token = token if isinstance(token, str) and token else None
        meta = {k: v for k, v in ctx.meta.items() if k in ("correlation_id", "dedup_key")}

        def enqueue(f: RecordingFile) -> None:
            args = [f.to_dict(), connection]
            kwargs = {"download_token": token, "meta": meta}
            app.send_task(
                DOWNLOAD_FILE_TASK,
                args=args,
                kwargs=kwargs,
                task_id=download_task_id(f),
                queue=DOWNLOADS_QUEUE,
                argsrepr=safe_repr(args),
                kwargsrepr=safe_repr(kwargs),
            )

        archiver = runtime.archiver()
        recordings, phone = _recordings(event)
        sent = [
            f.file_id
            for recording in recordings
            for f in archiver.archive_recording(
                recording,
                connection=connection,
                download_token=token,
                enqueue=enqueue,
                phone=phone,
            )
        ]
        log.info("archive.enqueued", files=sent)
        return {"enqueued": sent}

    return [
        Automation(
            name=f"zoomq.archive:{event}",
            event=event,
            handler=archive,
            source="built-in (ZOOMQ_ARCHIVE_ENABLED)",
        )
        for event in ARCHIVE_EVENTS
    ]
