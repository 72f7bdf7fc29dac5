"""Reconciliation: archive whatever Zoom lists that storage lacks, so no recording is missed.

A receiver down for longer than Zoom's webhook redelivery window (~85 minutes) never sees
those ``recording.completed`` events; walking ``listUsers`` and each user's
``listUsersRecordings`` (month windows: Zoom allows at most one month per request) finds
them again. What is already stored with Zoom's ``file_size`` is counted, not fetched, so a
sync is idempotent and cheap to repeat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from zoomq.actions.catalog import CATALOG
from zoomq.actions.runners import split_into_months
from zoomq.archive.files import ArchiveFilter, RecordingFile, files_of
from zoomq.errors import ZoomError

if TYPE_CHECKING:
    from zoomq.archive.storage import StoredFile
    from zoomq.client.http import ZoomClient

__all__ = [
    "USER_STATUSES",
    "SyncArchiver",
    "SyncReport",
    "iter_recordings",
    "iter_users",
    "reconcile",
]

log = structlog.get_logger("zoomq.archive")

#: Users of these statuses may own cloud recordings (a deactivated user's stay in Zoom).
USER_STATUSES = ("active", "inactive")


class SyncArchiver(Protocol):
    """What reconciliation needs of ``zoomq.archive.service.Archiver``."""

    filter: ArchiveFilter

    def is_stored(self, f: RecordingFile) -> StoredFile | None: ...

    def archive_file(self, f: RecordingFile, *, download_token: str | None) -> object: ...


@dataclass
class SyncReport:
    """What one reconciliation saw and did; ``to_dict()`` is what the CLI and task print."""

    connection: str
    start: str
    end: str
    users: int = 0
    meetings: int = 0
    files: int = 0
    #: Files the archive filter refused (file or recording type, or not ``completed`` yet).
    filtered: int = 0
    already_archived: int = 0
    #: Files handed to ``enqueue`` (the worker: one ``zoomq.downloads.file`` task each).
    queued: int = 0
    #: Files archived in this process (no ``enqueue``: the CLI).
    archived: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def iter_users(client: ZoomClient) -> Iterator[dict[str, Any]]:
    """Every user of the account, active and inactive, page by page."""
    action = CATALOG["listUsers"]
    for status in USER_STATUSES:
        for page in client.iter_pages(
            action.path,
            params={"status": status},
            page_size=action.page_size,
            category=action.category,
        ):
            for user in page.get("users") or []:
                if isinstance(user, dict) and user.get("id"):
                    yield user


def iter_recordings(
    client: ZoomClient, user_id: str, start: date, end: date
) -> Iterator[dict[str, Any]]:
    """The user's recordings from ``start`` to ``end``, one month window after another.

    The windows are those of the catalog's ``listUsersRecordings`` runner; a meeting seen in
    an earlier window (same UUID) is not yielded again.
    """
    action = CATALOG["listUsersRecordings"]
    path = action.path.format(userId=user_id)
    seen: set[str] = set()
    for low, high in split_into_months(start, end):
        window = {"from": low.isoformat(), "to": high.isoformat()}
        for page in client.iter_pages(
            path, params=window, page_size=action.page_size, category=action.category
        ):
            for meeting in page.get("meetings") or []:
                uuid = meeting.get("uuid") if isinstance(meeting, dict) else None
                if not isinstance(uuid, str) or uuid in seen:
                    continue
                seen.add(uuid)
                yield meeting


def reconcile(
    archiver: SyncArchiver,
    client: ZoomClient,
    *,
    connection: str,
    start: date,
    end: date,
    enqueue: Callable[[RecordingFile], None] | None = None,
) -> SyncReport:
    """Archive (or ``enqueue``) every accepted file from ``start`` to ``end`` storage lacks.

    With ``enqueue`` (the worker) each missing file is handed to it, to be downloaded on the
    ``downloads`` queue with its own concurrency and per-file lock; without (the CLI) it is
    archived here, one after another. A file that fails is counted and reported; the walk
    goes on. Errors listing users or recordings propagate: the queue retries the sync.
    """
    if start > end:
        raise ValueError(f"start ({start}) is after end ({end})")
    report = SyncReport(connection=connection, start=start.isoformat(), end=end.isoformat())
    account = client.connection.rate_key
    accepts = archiver.filter.accepts
    for user in iter_users(client):
        report.users += 1
        for meeting in iter_recordings(client, str(user["id"]), start, end):
            report.meetings += 1
            for f in files_of(meeting, connection=connection, account=account):
                report.files += 1
                if not accepts(f):
                    report.filtered += 1
                    continue
                if archiver.is_stored(f) is not None:
                    report.already_archived += 1
                    continue
                if enqueue is not None:
                    enqueue(f)
                    report.queued += 1
                    continue
                try:
                    archiver.archive_file(f, download_token=None)
                except ZoomError as exc:
                    report.failed += 1
                    report.errors.append({"file_id": f.file_id, **exc.to_dict()})
                    log.warning("archive.sync.file_failed", file_id=f.file_id, error=str(exc))
                else:
                    report.archived += 1
    log.info("archive.sync.done", **{k: v for k, v in report.to_dict().items() if k != "errors"})
    return report
