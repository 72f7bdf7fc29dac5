"""Reconciliation against the sandbox over loopback: all users, month windows, what is missing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import redis

from tests.sandbox_settings import sandbox_settings
from zoomq.archive.files import ArchiveFilter, RecordingFile
from zoomq.archive.local import LocalStorage
from zoomq.archive.service import Archiver
from zoomq.archive.storage import Storage
from zoomq.archive.sync import reconcile
from zoomq.client.http import ZoomClient
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.content import expected_bytes
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import Settings


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=5)) as server:
        yield server


@pytest.fixture
def settings(sandbox: SandboxServer, redis_url: str) -> Settings:
    return sandbox_settings(sandbox, redis_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[ZoomClient]:
    with ZoomClient(settings, settings.connection(None)) as zoom:
        yield zoom


@pytest.fixture
def make_archiver(
    settings: Settings, client: ZoomClient, redis_client: redis.Redis, tmp_path: Path
) -> Iterator[Callable[..., Archiver]]:
    """Real Archivers on local storage; with ``enqueue`` reconcile never calls archive_file."""
    made: list[Archiver] = []

    def make(file_filter: ArchiveFilter | None = None) -> Archiver:
        archiver = Archiver(
            settings,
            redis_client,
            lambda _name: client,
            LocalStorage(tmp_path / "archive"),
            file_filter=file_filter,
        )
        made.append(archiver)
        return archiver

    yield make
    for archiver in made:
        archiver.close()


def today(sandbox: SandboxServer) -> date:
    return datetime.fromtimestamp(sandbox.state.clock.time(), UTC).date()


def store(storage: Storage, f: RecordingFile) -> None:
    """Archive ``f`` by hand, as a worker would have."""
    data = expected_bytes(f.file_id, 0, f.file_size)
    upload = storage.begin(storage.key_for(f))
    upload.write(data)
    upload.commit(expected_size=len(data), sha256=hashlib.sha256(data).hexdigest())


def test_enqueues_each_accepted_file_storage_lacks(
    sandbox: SandboxServer, client: ZoomClient, make_archiver: Callable[..., Archiver]
) -> None:
    """New recordings' files are enqueued; a file already stored with Zoom's size is counted
    as archived and not enqueued again."""
    made = sandbox.state.complete_recordings(sandbox.state.seeded.owner_email, 3, [3000, 200, 50])
    new = {f["id"] for r in made for f in r["recording_files"]}
    archiver = make_archiver()
    day = today(sandbox)
    queued: list[RecordingFile] = []
    report = reconcile(
        archiver, client, connection="default", start=day, end=day, enqueue=queued.append
    )
    ids = {f.file_id for f in queued}
    assert new <= ids
    assert len(ids) == len(queued) == report.queued == report.files
    assert report.users >= 12
    assert report.meetings >= 3
    assert (report.already_archived, report.archived, report.failed) == (0, 0, 0)

    first = next(f for f in queued if f.file_id in new)
    store(archiver.storage, first)
    again: list[RecordingFile] = []
    second = reconcile(
        archiver, client, connection="default", start=day, end=day, enqueue=again.append
    )
    assert first.file_id not in {f.file_id for f in again}
    assert (second.already_archived, second.queued) == (1, report.queued - 1)


def test_the_filter_decides_what_counts(
    sandbox: SandboxServer, client: ZoomClient, make_archiver: Callable[..., Archiver]
) -> None:
    """Only accepted file types are enqueued; the rest are counted as filtered."""
    sandbox.state.complete_recordings(sandbox.state.seeded.owner_email, 2, [300, 20, 10])
    archiver = make_archiver(ArchiveFilter(file_types=frozenset({"MP4"})))
    day = today(sandbox)
    queued: list[RecordingFile] = []
    report = reconcile(
        archiver, client, connection="default", start=day, end=day, enqueue=queued.append
    )
    assert queued
    assert {f.file_type for f in queued} == {"MP4"}
    assert report.filtered == report.files - report.queued > 0


def test_a_long_range_is_walked_month_by_month(
    sandbox: SandboxServer, client: ZoomClient, make_archiver: Callable[..., Archiver]
) -> None:
    """70 days are three windows per user (Zoom refuses more than a month at once), and a
    recording is found whichever window holds it."""
    state = sandbox.state
    made = state.complete_recordings(state.seeded.owner_email, 1, [100])
    end = today(sandbox)
    start = end - timedelta(days=69)
    archiver = make_archiver()
    queued: list[RecordingFile] = []
    report = reconcile(
        archiver, client, connection="default", start=start, end=end, enqueue=queued.append
    )
    owner_id = made[0]["host_id"]
    windows = state.count("GET", f"/v2/users/{owner_id}/recordings")
    assert windows == 3
    assert made[0]["recording_files"][0]["id"] in {f.file_id for f in queued}
    assert report.start == start.isoformat()
