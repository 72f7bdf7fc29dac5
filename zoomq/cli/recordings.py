"""``zoomq recordings``: download one meeting's recordings, sync a date range, show the archive.

Everything runs in this process, against the same storage and Redis locks as the worker
(``zoomq.archive``), so a file the worker already archived is skipped here and the other
way round. Results go to stdout as one JSON line per file (or per report); progress bars
(``rich``: bytes, rate, ETA, per file and overall) go to stderr, and only to a terminal.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from tasks.runtime import s3_options
from zoomq.archive.files import RecordingFile
from zoomq.archive.service import Archiver, archive_stats
from zoomq.archive.storage import MANIFEST_NAME, Storage, StoredFile, Upload, open_storage
from zoomq.archive.sync import reconcile
from zoomq.cli.context import fail, open_client, open_redis, pass_settings, zoom_errors
from zoomq.errors import ConfigurationError, NotFound, ZoomError
from zoomq.runtime.keys import Keys
from zoomq.settings import Settings

if TYPE_CHECKING:
    import hashlib

    import redis

    from zoomq.client.http import ZoomClient

__all__ = ["ProgressStorage", "meeting_path", "recordings_group"]


def meeting_path(meeting: str) -> str:
    """``/meetings/{id}/recordings`` for a numeric id or a UUID.

    A UUID is encoded twice when it starts with ``/`` or holds ``//`` (ZOOM_API.md,
    getMeetingRecordings); encoding any UUID twice is what Zoom accepts too, so every
    non-numeric value is.
    """
    if meeting.isdigit():
        return f"/meetings/{meeting}/recordings"
    return f"/meetings/{quote(quote(meeting, safe=''), safe='')}/recordings"


# -- progress ------------------------------------------------------------------------


class _ProgressUpload:
    """An ``Upload`` that reports each chunk written; everything else is the inner one's."""

    def __init__(self, inner: Upload, on_bytes: Callable[[int], None]) -> None:
        self._inner = inner
        self._on_bytes = on_bytes
        if inner.offset:
            on_bytes(inner.offset)  # resumed: these bytes are already there

    @property
    def offset(self) -> int:
        return self._inner.offset

    @offset.setter
    def offset(self, value: int) -> None:
        self._inner.offset = value

    def write(self, chunk: bytes) -> None:
        self._inner.write(chunk)
        self._on_bytes(len(chunk))

    def commit(self, *, expected_size: int, sha256: str) -> StoredFile:
        return self._inner.commit(expected_size=expected_size, sha256=sha256)

    def abort(self) -> None:
        self._inner.abort()

    def resume_hash(self) -> hashlib._Hash:
        return self._inner.resume_hash()


class ProgressStorage:
    """A ``Storage`` that tells ``on_bytes(key, n)`` of every byte an upload takes.

    The ``Archiver`` writes through it unchanged; the progress bars watch the bytes land.
    """

    def __init__(self, inner: Storage, on_bytes: Callable[[str, int], None]) -> None:
        self.inner = inner
        self._on_bytes = on_bytes

    def key_for(self, f: RecordingFile) -> str:
        return self.inner.key_for(f)

    def stored(self, key: str) -> StoredFile | None:
        return self.inner.stored(key)

    def begin(self, key: str) -> Upload:
        upload = self.inner.begin(key)
        return _ProgressUpload(upload, lambda n: self._on_bytes(key, n))

    def read_manifest(self, meeting_key: str) -> dict[str, Any] | None:
        return self.inner.read_manifest(meeting_key)

    def write_manifest(self, meeting_key: str, manifest: Mapping[str, Any]) -> None:
        self.inner.write_manifest(meeting_key, manifest)

    def manifest_key_for(self, f: RecordingFile) -> str:
        return self.inner.manifest_key_for(f)

    def describe(self) -> str:
        return self.inner.describe()

    def __getattr__(self, name: str) -> Any:  # anything a backend adds beyond the protocol
        return getattr(self.inner, name)


class _Bars:
    """One bar per file and one overall, on stderr; nothing when stderr is not a terminal."""

    def __init__(self) -> None:
        console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not console.is_terminal,
            transient=False,
        )
        self.overall: TaskID | None = None
        self._by_key: dict[str, TaskID] = {}

    def plan(self, files: list[tuple[str, RecordingFile]]) -> None:
        total = sum(f.file_size for _, f in files)
        self.overall = self.progress.add_task("overall", total=total)
        for key, f in files:
            label = f"{f.file_type.lower()} {f.file_id[:12]}"
            self._by_key[key] = self.progress.add_task(label, total=f.file_size, start=False)

    def start(self, key: str) -> None:
        task = self._by_key.get(key)
        if task is not None:
            self.progress.start_task(task)

    def done(self, key: str, f: RecordingFile) -> None:
        """The file is there (downloaded or skipped): its bar and its share of the total full."""
        task = self._by_key.get(key)
        if task is None:
            return
        left = f.file_size - int(self.progress.tasks[task].completed)
        self.progress.update(task, completed=f.file_size)
        if self.overall is not None and left > 0:
            self.progress.advance(self.overall, left)

    def advance(self, key: str, n: int) -> None:
        task = self._by_key.get(key)
        if task is not None:
            self.progress.advance(task, n)
        if self.overall is not None:
            self.progress.advance(self.overall, n)


# -- shared plumbing -----------------------------------------------------------------


def _open_dest(settings: Settings, dest: str | None) -> Storage:
    """The storage at ``dest`` (default ``ZOOMQ_ARCHIVE_DEST``); exit 2 naming a bad one."""
    where = dest or settings.archive.dest
    option = "--dest" if dest else "ZOOMQ_ARCHIVE_DEST"
    if not where.startswith("s3://"):
        problem = _local_problem(Path(where))
        if problem:
            fail(f"{option} {where}: {problem}", 2)
    try:
        return open_storage(where, layout=settings.archive.layout, s3_options=s3_options(settings))
    except ZoomError as exc:
        fail(f"{option} {where}: {exc}", 2)
        raise  # unreachable; for type checkers


def _local_problem(path: Path) -> str | None:
    """Why ``path`` cannot hold an archive, or None."""
    if path.exists() and not path.is_dir():
        return "exists and is not a directory"
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable"
    return None


@contextmanager
def _archiver(settings: Settings, storage: Storage, client: ZoomClient) -> Iterator[Archiver]:
    """An ``Archiver`` on this process's client, with Redis for the per-file locks."""
    redis_client: redis.Redis | None = open_redis(settings, required=True)
    assert redis_client is not None
    try:
        yield Archiver(settings, redis_client, lambda _name: client, storage)
    finally:
        redis_client.close()


def _emit(line: Mapping[str, Any]) -> None:
    click.echo(json.dumps(line, ensure_ascii=False, default=str))


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected yyyy-mm-dd, got {value!r}", param_hint=option) from None


# -- commands ------------------------------------------------------------------------


@click.group("recordings")
def recordings_group() -> None:
    """Archive cloud recordings: download a meeting, sync a date range, show the archive."""


@recordings_group.command("download")
@click.option("--meeting", "-m", required=True, metavar="ID|UUID", help="Meeting id or UUID.")
@click.option(
    "--dest", metavar="DIR|s3://bucket/prefix", help="Where to (default: ZOOMQ_ARCHIVE_DEST)."
)
@click.option("--connection", "-c", help="Connection name (default: the only/`default` one).")
@pass_settings
def _download_command(
    settings: Settings, meeting: str, dest: str | None, connection: str | None
) -> None:
    """Download MEETING's recording files (the latest instance for an id) into the archive.

    Prints one JSON line per file: its key, size, SHA-256, and whether it was already there.
    Exits 1 if any file failed, 2 for a bad --dest or connection.
    """
    with zoom_errors():
        conn = settings.connection(connection)
        storage = _open_dest(settings, dest)
        failed = 0
        with open_client(settings, connection) as client:
            try:
                response = client.request(
                    "GET",
                    meeting_path(meeting),
                    params={"include_fields": "download_access_token"},
                )
            except NotFound as exc:
                fail(f"meeting {meeting}: no recordings found ({exc})", 1)
            body = response.json()
            token = body.get("download_access_token")
            bars = _Bars()
            watched = ProgressStorage(storage, bars.advance)
            with _archiver(settings, watched, client) as archiver:
                files = archiver.accepted(body, connection=conn.name)
                planned = [(storage.key_for(f), f) for f in files]
                with bars.progress:
                    bars.plan(planned)
                    for key, f in planned:
                        bars.start(key)
                        line = _download_one(archiver, f, key, token, storage)
                        failed += "error" in line
                        bars.done(key, f)
                        _emit(line)
    if failed:
        sys.exit(1)


def _download_one(
    archiver: Archiver, f: RecordingFile, key: str, token: str | None, storage: Storage
) -> dict[str, Any]:
    base = {
        "meeting_id": f.meeting_id,
        "meeting_uuid": f.meeting_uuid,
        "file_id": f.file_id,
        "file_type": f.file_type,
        "recording_type": f.recording_type,
        "dest": storage.describe(),
        "key": key,
    }
    try:
        result = archiver.archive_file(f, download_token=token)
    except ZoomError as exc:
        return {**base, "error": exc.to_dict()}
    return {
        **base,
        "size": result.stored.size,
        "sha256": result.stored.sha256,
        "skipped": result.skipped,
        "resumed_from": result.resumed_from,
    }


@recordings_group.command("sync")
@click.option("--connection", "-c", required=True, help="Connection name.")
@click.option("--from", "from_", required=True, metavar="DATE", help="First day, yyyy-mm-dd.")
@click.option("--to", metavar="DATE", help="Last day, yyyy-mm-dd (default: today, UTC).")
@click.option(
    "--dest", metavar="DIR|s3://bucket/prefix", help="Where to (default: ZOOMQ_ARCHIVE_DEST)."
)
@pass_settings
def _sync_command(
    settings: Settings, connection: str, from_: str, to: str | None, dest: str | None
) -> None:
    """Archive every recording Zoom lists from --from to --to that storage lacks.

    Walks every user's recordings month by month, downloads here what is missing, and
    prints the report as one JSON line. Exits 1 if any file failed.
    """
    start = _day(from_, "--from")
    end = _day(to, "--to") if to else datetime.now(UTC).date()
    if start > end:
        raise click.BadParameter(f"--from {start} is after --to {end}", param_hint="--from")
    with zoom_errors():
        settings.connection(connection)
        storage = _open_dest(settings, dest)
        with (
            open_client(settings, connection) as client,
            _archiver(settings, storage, client) as archiver,
        ):
            report = reconcile(archiver, client, connection=connection, start=start, end=end)
    _emit(report.to_dict())
    if report.failed:
        sys.exit(1)


@recordings_group.command("status")
@click.option("--meeting", "-m", metavar="ID|UUID", help="Only this meeting.")
@click.option(
    "--dest", metavar="DIR|s3://bucket/prefix", help="Where (default: ZOOMQ_ARCHIVE_DEST)."
)
@pass_settings
def _status_command(settings: Settings, meeting: str | None, dest: str | None) -> None:
    """What the manifests say is archived: one JSON line per meeting, its files and sizes."""
    storage = _open_dest(settings, dest)
    found = 0
    with zoom_errors():
        for key in _manifest_keys(storage):
            manifest = storage.read_manifest(key)
            if manifest is None:
                continue
            if meeting and meeting not in (
                str(manifest.get("meeting_id")),
                str(manifest.get("meeting_uuid")),
            ):
                continue
            found += 1
            _emit({"manifest": key, **manifest})
    if meeting and not found:
        fail(f"meeting {meeting}: nothing archived in {storage.describe()}", 1)
    if not found:
        click.echo(f"note: nothing archived in {storage.describe()} yet", err=True)


@recordings_group.command("stats")
@pass_settings
def _stats_command(settings: Settings) -> None:
    """The archive's counters as one JSON line: files and bytes stored, failed and resumed
    downloads (every worker and CLI download sharing this Redis)."""
    with zoom_errors():
        client = open_redis(settings, required=True)
        assert client is not None
        try:
            _emit(archive_stats(client, Keys(settings.zoomq_key_prefix)))
        finally:
            client.close()


def _manifest_keys(storage: Storage) -> Iterator[str]:
    """Every manifest's key: walked on disk, or listed by a backend that can."""
    lister = getattr(storage, "manifest_keys", None)
    if callable(lister):
        yield from lister()
        return
    root = getattr(storage, "root", None)
    if root is None:
        raise ConfigurationError(f"{storage.describe()}: this backend cannot list manifests")
    base = Path(root)
    for path in sorted(base.rglob(MANIFEST_NAME)):
        yield path.relative_to(base).as_posix()
