"""``Archiver`` against the sandbox over loopback, a real redis-server and a local directory."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.sandbox_settings import sandbox_settings
from zoomq.archive.files import RecordingFile, files_of
from zoomq.archive.local import LocalStorage
from zoomq.archive.service import DOWNLOAD_HORIZON, Archiver, _Heartbeat
from zoomq.client.http import ZoomClient
from zoomq.errors import (
    BadRequest,
    DownloadUnauthorized,
    FileLocked,
    IncompleteDownload,
    RecordingGone,
)
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.content import expected_sha256
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import Settings

KIB = 1024


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=5, rate_limits=False)) as server:
        yield server


def make_settings(sandbox: SandboxServer, redis_url: str, **archive: Any) -> Settings:
    return sandbox_settings(
        sandbox, redis_url, archive={"download_hosts": ("127.0.0.1",), **archive}
    )


@pytest.fixture
def make_archiver(
    sandbox: SandboxServer, redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> Iterator[Callable[..., Archiver]]:
    made: list[tuple[Archiver, ZoomClient]] = []

    def make(**archive: Any) -> Archiver:
        settings = make_settings(sandbox, redis_url, **archive)
        client = ZoomClient(settings, settings.connection(), redis_client=redis_client)
        archiver = Archiver(
            settings,
            redis_client,
            lambda _name: client,
            LocalStorage(tmp_path / "archive"),
            lock_timeout=5.0,
        )
        made.append((archiver, client))
        return archiver

    yield make
    for archiver, client in made:
        archiver.close()
        client.close()


def recording(sandbox: SandboxServer, sizes: list[int]) -> dict[str, Any]:
    return sandbox.state.add_recording(sandbox.state.seeded.meeting_id, file_sizes=sizes)


def cdn_hits(sandbox: SandboxServer, file_id: str) -> int:
    return len(sandbox.state.range_log.get(file_id, []))


def meeting_gets(sandbox: SandboxServer) -> int:
    return sandbox.state.count(
        "GET", lambda p: p.startswith("/v2/meetings/") and p.endswith("/recordings")
    )


def test_every_accepted_file_is_stored_verified_and_listed(
    sandbox: SandboxServer, make_archiver: Callable[..., Archiver], tmp_path: Path
) -> None:
    """Each completed file lands with the sandbox's SHA-256; the manifest lists size, sha256,
    Zoom's metadata and archived_at for each."""
    archiver = make_archiver()
    rec = recording(sandbox, [300 * KIB, 70 * KIB, 5 * KIB])
    token = sandbox.state.issue_download_token()
    missing = archiver.archive_recording(rec, connection="default", download_token=token)
    assert len(missing) == 3
    files = files_of(rec, connection="default", account=archiver.account_of("default"))
    manifest = archiver.storage.read_manifest(archiver.storage.manifest_key_for(files[0]))
    assert manifest is not None
    for f in files:
        stored = archiver.storage.stored(archiver.storage.key_for(f))
        assert stored is not None
        assert stored.sha256 == expected_sha256(f.file_id, f.file_size)
        entry = manifest["files"][f.file_id]
        assert entry["size"] == f.file_size
        assert entry["sha256"] == stored.sha256
        assert entry["zoom"]["id"] == f.file_id
        assert entry["archived_at"].endswith("Z")
    assert meeting_gets(sandbox) == 0  # the event's token sufficed


def test_a_stored_file_is_skipped_and_not_downloaded_again(
    sandbox: SandboxServer, make_archiver: Callable[..., Archiver]
) -> None:
    """The same file twice: one CDN response in all, the second call reports skipped."""
    archiver = make_archiver()
    rec = recording(sandbox, [40 * KIB])
    token = sandbox.state.issue_download_token()
    [f] = archiver.accepted(rec, connection="default")
    first = archiver.archive_file(f, download_token=token)
    second = archiver.archive_file(f, download_token=token)
    assert (first.skipped, second.skipped) == (False, True)
    assert cdn_hits(sandbox, f.file_id) == 1
    assert archiver.archive_recording(rec, connection="default", download_token=token) == []


def test_a_file_locked_by_another_worker_waits(
    sandbox: SandboxServer, make_archiver: Callable[..., Archiver], redis_client: redis.Redis
) -> None:
    """While another worker holds the file's lock: FileLocked with the lock's TTL, no bytes."""
    archiver = make_archiver()
    [f] = archiver.accepted(recording(sandbox, [10 * KIB]), connection="default")
    other = redis_client.lock(archiver.keys("archive", "lock", f.file_id), timeout=30)
    assert other.acquire(blocking=False)
    with pytest.raises(FileLocked) as caught:
        archiver.archive_file(f, download_token=sandbox.state.issue_download_token())
    assert 1 < caught.value.retry_after <= 30
    # Waits of at least a third of the lock timeout add up to a whole download's horizon.
    waits = caught.value.max_waits
    assert waits is not None
    assert waits * archiver.lock_timeout / 3 >= DOWNLOAD_HORIZON
    assert cdn_hits(sandbox, f.file_id) == 0


def test_the_lock_is_extended_while_bytes_arrive(redis_client: redis.Redis) -> None:
    """The progress callback renews the lock's TTL once a third of it has passed; a lock
    lost meanwhile stops the download (FileLocked)."""
    now = [0.0]
    lock = redis_client.lock("test:archive:lock:x", timeout=3)
    assert lock.acquire(blocking=False)
    redis_client.pexpire("test:archive:lock:x", 500)
    beat = _Heartbeat(lock, "x", 3.0, lambda: now[0])
    beat(100)  # too soon: untouched
    assert redis_client.pttl("test:archive:lock:x") <= 500
    now[0] = 1.5
    beat(200)
    assert redis_client.pttl("test:archive:lock:x") > 2000
    redis_client.delete("test:archive:lock:x")
    redis_client.set("test:archive:lock:x", "someone else")
    now[0] = 3.0
    with pytest.raises(FileLocked):
        beat(300)


def test_a_refused_event_token_is_replaced_by_a_fresh_one(
    sandbox: SandboxServer, make_archiver: Callable[..., Archiver]
) -> None:
    """An expired download_token gets the HTML page; one getMeetingRecordings with
    include_fields=download_access_token later, the file is stored."""
    archiver = make_archiver()
    [f] = archiver.accepted(recording(sandbox, [20 * KIB]), connection="default")
    expired = sandbox.state.issue_download_token(1)
    deadline = time.monotonic() + 5
    while sandbox.state.oauth.can_download(expired):
        assert time.monotonic() < deadline, "the sandbox's token never expired"
        time.sleep(0.05)
    result = archiver.archive_file(f, download_token=expired)
    assert not result.skipped
    assert result.stored.sha256 == expected_sha256(f.file_id, f.file_size)
    assert meeting_gets(sandbox) == 1


def test_without_a_token_one_is_fetched(
    sandbox: SandboxServer, make_archiver: Callable[..., Archiver]
) -> None:
    """No download_token (a replay, a sync): a fresh one first, then the file."""
    archiver = make_archiver()
    [f] = archiver.accepted(recording(sandbox, [20 * KIB]), connection="default")
    archiver.archive_file(f, download_token=None)
    assert meeting_gets(sandbox) == 1
    assert cdn_hits(sandbox, f.file_id) == 1


def test_a_meeting_zoom_no_longer_has_is_gone(
    sandbox: SandboxServer, make_archiver: Callable[..., Archiver]
) -> None:
    """No token, and Zoom answers 3301 for the meeting: RecordingGone (never retried)."""
    archiver = make_archiver()
    [f] = archiver.accepted(recording(sandbox, [1 * KIB]), connection="default")
    ghost = RecordingFile.from_dict({**f.to_dict(), "meeting_uuid": "gone==", "meeting_id": "1"})
    with pytest.raises(RecordingGone, match="no longer has"):
        archiver.archive_file(ghost, download_token=None)


def test_html_with_a_fresh_token_too_is_refused_and_nothing_is_written(
    sandbox: SandboxServer, make_archiver: Callable[..., Archiver], tmp_path: Path
) -> None:
    """A login page even for the fresh token: DownloadUnauthorized, no file, no .part.

    The download is sent on to the same sandbox under another name (``localhost``, allowed
    but not the first host), so no token goes along and the sandbox answers its 200 page.
    """
    archiver = make_archiver(download_hosts=("127.0.0.1", "localhost"))
    [f] = archiver.accepted(recording(sandbox, [1 * KIB]), connection="default")
    login_page = sandbox.url.replace("127.0.0.1", "localhost") + f"/rec/download/{f.file_id}"
    sandbox.state.download_faults.redirect(f.file_id, login_page)
    with pytest.raises(DownloadUnauthorized):
        archiver.archive_file(f, download_token="not-a-token")
    assert [p for p in (tmp_path / "archive").rglob("*") if p.is_file()] == []


def test_a_late_file_joins_the_same_manifest(
    sandbox: SandboxServer, make_archiver: Callable[..., Archiver]
) -> None:
    """A file still processing at the first event is skipped then, and added to the same
    manifest by the later event (transcript_completed)."""
    archiver = make_archiver()
    rec = recording(sandbox, [10 * KIB, 2 * KIB])
    first = {**rec, "recording_files": [dict(x) for x in rec["recording_files"]]}
    first["recording_files"][1]["status"] = "processing"
    token = sandbox.state.issue_download_token()
    assert len(archiver.archive_recording(first, connection="default", download_token=token)) == 1
    later = {**rec, "recording_files": [rec["recording_files"][1]]}
    assert len(archiver.archive_recording(later, connection="default", download_token=token)) == 1
    [f, _] = archiver.accepted(rec, connection="default")
    manifest = archiver.storage.read_manifest(archiver.storage.manifest_key_for(f))
    assert manifest is not None
    assert set(manifest["files"]) == {x["id"] for x in rec["recording_files"]}


def test_delete_after_archive_trashes_only_a_complete_meeting(
    sandbox: SandboxServer, make_archiver: Callable[..., Archiver]
) -> None:
    """With delete_after: nothing trashed while one accepted file is missing; trashed
    (action=trash, never delete) once every file is stored and verified."""
    archiver = make_archiver(delete_after=True)
    rec = recording(sandbox, [3 * KIB, 2 * KIB])
    token = sandbox.state.issue_download_token()
    f1, f2 = archiver.accepted(rec, connection="default")
    archiver.archive_file(f1, download_token=token)
    assert rec["uuid"] in sandbox.state.store.recordings
    archiver.archive_file(f2, download_token=token)
    assert rec["uuid"] in sandbox.state.store.trashed_recordings
    deletes = [r for r in sandbox.state.requests if r.method == "DELETE"]
    assert len(deletes) == 1
    manifest = archiver.storage.read_manifest(archiver.storage.manifest_key_for(f1))
    assert manifest is not None
    assert manifest["trashed_at"]


def test_a_trash_that_failed_is_tried_again_when_the_file_is_found_stored(
    sandbox: SandboxServer, make_archiver: Callable[..., Archiver]
) -> None:
    """The DELETE failed on the attempt that stored the last file (the task is retried):
    the retry finds the file stored and trashes the meeting then."""
    archiver = make_archiver(delete_after=True)
    rec = recording(sandbox, [2 * KIB])
    [f] = archiver.accepted(rec, connection="default")
    sandbox.state.faults.inject("DELETE", "/v2/meetings/*", 400, count=1)
    with pytest.raises(BadRequest):
        archiver.archive_file(f, download_token=sandbox.state.issue_download_token())
    assert rec["uuid"] in sandbox.state.store.recordings
    assert archiver.archive_file(f, download_token=None).skipped
    assert rec["uuid"] in sandbox.state.store.trashed_recordings


def test_delete_after_archive_is_off_by_default(
    sandbox: SandboxServer, make_archiver: Callable[..., Archiver]
) -> None:
    """Without the setting, a fully archived meeting stays in Zoom."""
    archiver = make_archiver()
    rec = recording(sandbox, [3 * KIB])
    archiver.archive_recording(
        rec, connection="default", download_token=sandbox.state.issue_download_token()
    )
    assert rec["uuid"] in sandbox.state.store.recordings
    assert not [r for r in sandbox.state.requests if r.method == "DELETE"]


def test_a_phone_recording_is_fetched_with_the_connections_token(
    sandbox: SandboxServer, make_archiver: Callable[..., Archiver]
) -> None:
    """Phone recordings have no download token: the connection's OAuth token, as a Bearer;
    their size is what the download says (Zoom lists none)."""
    archiver = make_archiver()
    call = sandbox.state.store.phone_recordings[0]
    [f] = archiver.accepted(call, connection="default", phone=True)
    result = archiver.archive_file(f, download_token="ignored-for-phone")
    assert result.stored.size > 0
    assert result.stored.sha256 == expected_sha256(f.file_id, result.stored.size)
    auths = [r.auth for r in sandbox.state.download_log if r.file_id == f.file_id]
    assert auths
    assert set(auths) == {"bearer"}
    assert archiver.archive_file(f, download_token=None).skipped


def test_the_counters_follow_stored_skipped_resumed_and_failed_files(
    sandbox: SandboxServer,
    make_archiver: Callable[..., Archiver],
    redis_client: redis.Redis,
    redis_url: str,
) -> None:
    """files and bytes count what was stored (a resumed file only what it fetched),
    failures the downloads that broke, resumptions those that went on from a partial;
    `zoomq recordings stats` prints them."""
    from click.testing import CliRunner

    from zoomq.archive.service import archive_stats
    from zoomq.cli.recordings import recordings_group

    archiver = make_archiver()
    [small, big] = archiver.accepted(
        recording(sandbox, [10 * KIB, 400 * KIB]), connection="default"
    )
    token = sandbox.state.issue_download_token()
    archiver.archive_file(small, download_token=token)
    archiver.archive_file(small, download_token=token)  # skipped: counts nothing
    sandbox.state.download_faults.cut(big.file_id, after=100 * KIB)
    with pytest.raises(IncompleteDownload):
        archiver.archive_file(big, download_token=token)
    archiver.archive_file(big, download_token=token)
    expected = {
        "files": 2,
        "bytes": 10 * KIB + 400 * KIB - 100 * KIB,
        "failures": 1,
        "resumptions": 1,
    }
    assert archive_stats(redis_client, archiver.keys) == expected
    settings = make_settings(sandbox, redis_url)
    shown = CliRunner().invoke(recordings_group, ["stats"], obj=settings)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == expected


def test_delete_after_archive_never_trashes_a_file_the_filter_left_out(
    sandbox: SandboxServer, make_archiver: Callable[..., Archiver]
) -> None:
    """Archiving only MP4s, a meeting with another file stays in Zoom: that file was never
    archived, and trashing would lose it."""
    archiver = make_archiver(delete_after=True, file_types=("MP4",))
    rec = recording(sandbox, [3 * KIB, 2 * KIB])
    token = sandbox.state.issue_download_token()
    accepted = archiver.accepted(rec, connection="default")
    assert 0 < len(accepted) < len(rec["recording_files"])
    for f in accepted:
        archiver.archive_file(f, download_token=token)
    assert rec["uuid"] in sandbox.state.store.recordings
    assert not [r for r in sandbox.state.requests if r.method == "DELETE"]
