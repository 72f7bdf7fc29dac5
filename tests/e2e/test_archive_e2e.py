"""The recording archive end to end: `zoomq webhook send` → the receiver → the events worker
→ the built-in automation → the downloads worker → files in a directory, against the
sandbox's CDN. Every file is compared with the SHA-256 of what the sandbox serves.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.conftest import REPO, WEBHOOK_SECRET, ArchiveE2E, wait_for
from tests.sandbox.conftest import account_token
from zoomq.archive.files import RecordingFile, files_of
from zoomq.archive.local import LocalStorage
from zoomq.redis_server import free_port
from zoomq.runtime.dlq import DeadLetter, DeadLetterStore
from zoomq.runtime.names import DOWNLOAD_FILE_TASK, EVENT_TASK
from zoomq.sandbox.content import expected_sha256

KIB, MIB, GIB = 1024, 1024 * 1024, 1024 * 1024 * 1024
ACCOUNT = "sandbox-account"


def new_recording(archive: ArchiveE2E, sizes: list[int]) -> dict[str, Any]:
    state = archive.sandbox.state
    return state.add_recording(state.seeded.meeting_id, file_sizes=sizes)


def envelope(
    name: str, obj: Mapping[str, Any], token: str | None, *, ts: int | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event": name,
        "event_ts": ts or int(time.time() * 1000),
        "payload": {"account_id": ACCOUNT, "object": dict(obj)},
    }
    if token is not None:
        event["download_token"] = token
    return event


def cli_send(archive: ArchiveE2E, event: dict[str, Any], tmp_path: Path) -> None:
    """`zoomq webhook send EVENT --data @file`: signed and POSTed to the receiver."""
    data = tmp_path / f"event-{time.monotonic_ns()}.json"
    data.write_text(json.dumps({k: v for k, v in event.items() if k != "event"}))
    done = subprocess.run(
        [
            sys.executable, "-m", "zoomq", "webhook", "send", event["event"],
            "--to", archive.stack.webhook_url, "--secret", WEBHOOK_SECRET,
            "--data", f"@{data}", "--deadline", "10",
        ],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout


def storage(archive: ArchiveE2E) -> LocalStorage:
    return LocalStorage(archive.archive_dir)


def rfiles(rec: Mapping[str, Any]) -> list[RecordingFile]:
    return files_of(rec, connection="default", account=ACCOUNT)


def manifest_of(archive: ArchiveE2E, f: RecordingFile) -> dict[str, Any]:
    store = storage(archive)
    return store.read_manifest(store.manifest_key_for(f)) or {}


def wait_archived(archive: ArchiveE2E, files: list[RecordingFile], timeout: float = 60) -> None:
    ids = {f.file_id for f in files}
    wait_for(
        lambda: ids <= set(manifest_of(archive, files[0]).get("files", {})),
        timeout,
        f"the manifest to list {sorted(ids)}",
    )


def assert_identical(archive: ArchiveE2E, f: RecordingFile) -> None:
    """The stored file's bytes hash to what the sandbox serves for it, as the manifest says."""
    store = storage(archive)
    path = archive.archive_dir / store.key_for(f)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(4 * MIB):
            digest.update(chunk)
    want = expected_sha256(f.file_id, f.file_size)
    assert path.stat().st_size == f.file_size
    assert digest.hexdigest() == want
    assert manifest_of(archive, f)["files"][f.file_id]["sha256"] == want


def dead_letter(archive: ArchiveE2E, task_id: str, timeout: float = 40) -> DeadLetter:
    store = DeadLetterStore(archive.stack.redis)
    entry: DeadLetter = wait_for(lambda: store.get(task_id), timeout, f"dead letter {task_id}")
    return entry


def cdn_offsets(archive: ArchiveE2E, file_id: str) -> list[int]:
    return list(archive.sandbox.state.range_log.get(file_id, []))


def test_completed_then_transcript_lands_every_file_byte_identical(
    archive_e2e: ArchiveE2E, tmp_path: Path
) -> None:
    """recording.completed (transcript still processing), then transcript_completed, both via
    `zoomq webhook send`: all four files stored byte-identical, one manifest lists them."""
    rec = new_recording(archive_e2e, [3 * MIB, 300 * KIB, 40 * KIB, 10 * KIB])
    token = archive_e2e.sandbox.state.issue_download_token()
    first = {**rec, "recording_files": [dict(x) for x in rec["recording_files"]]}
    transcript = next(x for x in first["recording_files"] if x["file_type"] == "TRANSCRIPT")
    transcript["status"] = "processing"
    cli_send(archive_e2e, envelope("recording.completed", first, token), tmp_path)
    files = rfiles(rec)
    early = [f for f in files if f.file_type != "TRANSCRIPT"]
    wait_archived(archive_e2e, early)
    assert [
        f.file_type for f in files if f.file_id not in manifest_of(archive_e2e, files[0])["files"]
    ] == ["TRANSCRIPT"]

    late = {
        **rec,
        "recording_files": [x for x in rec["recording_files"] if x["id"] == transcript["id"]],
    }
    cli_send(archive_e2e, envelope("recording.transcript_completed", late, token), tmp_path)
    wait_archived(archive_e2e, files)
    for f in files:
        assert_identical(archive_e2e, f)
        assert cdn_offsets(archive_e2e, f.file_id) == [0]
    manifest = manifest_of(archive_e2e, files[0])
    assert manifest["meeting_uuid"] == rec["uuid"]
    assert {e["size"] for e in manifest["files"].values()} == {f.file_size for f in files}
    assert not [p for p in archive_e2e.files() if p.name.endswith(".part")]
    leaked = [line for line in archive_e2e.logs() if token in json.dumps(line)]
    assert leaked == []


def test_the_same_event_twice_archives_nothing_twice(archive_e2e: ArchiveE2E) -> None:
    """The receiver drops the redelivered body; the same event for the same meeting again
    sends no download (storage has every file); a redelivered download message finds its
    file stored. One CDN response per file in all."""
    stack = archive_e2e.stack
    rec = new_recording(archive_e2e, [200 * KIB, 20 * KIB])
    files = rfiles(rec)
    token = archive_e2e.sandbox.state.issue_download_token()
    event = envelope("recording.completed", rec, token)
    first = stack.deliver(event, "corr-twice")
    assert first.answer == {"status": "queued"}
    wait_archived(archive_e2e, files)
    assert stack.deliver(event, "corr-twice").answer["status"] != "queued"
    again = {**event, "event_ts": event["event_ts"] + 1}  # Zoom sending it once more
    stack.send_event(again, "corr-twice-new")
    enqueued = wait_for(
        lambda: archive_e2e.log_events("archive.enqueued", correlation_id="corr-twice-new"),
        30,
        "the second event's automation run",
    )
    assert enqueued[0]["files"] == []
    for f in files:  # what the broker does after a visibility timeout
        stack.app.send_task(
            DOWNLOAD_FILE_TASK,
            args=[f.to_dict(), "default"],
            kwargs={"download_token": token},
            task_id=f"dl-{f.file_id}",
        )
    wait_for(
        lambda: all(archive_e2e.log_events("archive.skipped", file_id=f.file_id) for f in files),
        30,
        "the redelivered downloads to find the files stored",
    )
    for f in files:
        assert cdn_offsets(archive_e2e, f.file_id) == [0]
        assert_identical(archive_e2e, f)


def test_kill_9_mid_file_resumes_where_it_stopped(archive_e2e: ArchiveE2E) -> None:
    """kill -9 of the downloads worker in the middle of a 1 GiB file; a new worker resumes
    it with a Range from the bytes on disk, and the file is byte-identical."""
    rec = new_recording(archive_e2e, [GIB])
    [f] = rfiles(rec)
    token = archive_e2e.sandbox.state.issue_download_token()
    archive_e2e.stack.send_event(envelope("recording.completed", rec, token), "corr-kill")
    part = archive_e2e.archive_dir / (storage(archive_e2e).key_for(f) + ".part")
    wait_for(lambda: part.exists() and part.stat().st_size > 200 * MIB, 60, "200 MiB on disk")
    archive_e2e.kill_downloads()
    at_kill = part.stat().st_size
    assert at_kill < GIB, "the download finished before the kill"
    archive_e2e.start_downloads()
    wait_archived(archive_e2e, [f], timeout=150)
    offsets = cdn_offsets(archive_e2e, f.file_id)
    assert offsets[0] == 0
    assert len(offsets) >= 2, offsets
    assert offsets[-1] > 0, offsets
    assert offsets[-1] <= at_kill
    print(f"\nkill -9 with {at_kill} bytes on disk; CDN responses started at {offsets}")
    assert_identical(archive_e2e, f)


def test_an_expired_download_token_is_refreshed(archive_e2e: ArchiveE2E) -> None:
    """The event's token expired: the sandbox's HTML page, a fresh download_access_token from
    getMeetingRecordings, the file stored and identical (the page never is)."""
    state = archive_e2e.sandbox.state
    rec = new_recording(archive_e2e, [64 * KIB])
    [f] = rfiles(rec)
    expired = state.issue_download_token(1)
    wait_for(lambda: not state.oauth.can_download(expired), 5, "the token to expire")
    before = state.count("GET", lambda p: p.endswith("/recordings"))
    archive_e2e.stack.send_event(envelope("recording.completed", rec, expired), "corr-expired")
    wait_archived(archive_e2e, [f])
    assert_identical(archive_e2e, f)
    assert state.count("GET", lambda p: p.endswith("/recordings")) == before + 1
    auths = [r.auth for r in state.download_log if r.file_id == f.file_id]
    assert len(auths) >= 2  # the event's token, then the fresh one
    assert set(auths) == {"bearer"}  # never ?access_token=


def test_html_instead_of_media_is_refused_and_never_stored(archive_e2e: ArchiveE2E) -> None:
    """A login page whatever the token (the download sent on, unauthenticated): refused,
    retried with a fresh token, then dead-lettered; no file, not even a partial one."""
    state = archive_e2e.sandbox.state
    rec = new_recording(archive_e2e, [32 * KIB])
    [f] = rfiles(rec)
    # The same sandbox under another allowed name: the token stays with the first host.
    login = archive_e2e.sandbox.url.replace("127.0.0.1", "localhost")
    state.download_faults.redirect(f.file_id, f"{login}/rec/download/{f.file_id}")
    token = state.issue_download_token()
    archive_e2e.stack.send_event(envelope("recording.completed", rec, token), "corr-html")
    entry = dead_letter(archive_e2e, f"dl-{f.file_id}")
    assert entry.error["type"] in ("DownloadUnauthorized", "DownloadRefused")
    assert state.count("GET", lambda p: p.endswith("/recordings")) >= 1
    meeting_dir = archive_e2e.archive_dir / Path(storage(archive_e2e).key_for(f)).parent
    assert not meeting_dir.exists() or not any(meeting_dir.iterdir())


class _Trap(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        _Trap.seen.append(dict(self.headers))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"stolen")

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def trap() -> Iterator[str]:
    """An HTTP server on loopback that records every request: the "non-Zoom host"."""
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.2", port), _Trap)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Trap.seen = []
    try:
        yield f"http://127.0.0.2:{port}/steal"  # not among the allowed hosts
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_to_a_foreign_host_is_refused_and_dead_lettered(
    archive_e2e: ArchiveE2E, trap: str
) -> None:
    """Location on a host not Zoom's: no request goes there (so no token), the task is
    dead-lettered at the first attempt, and nothing is written."""
    state = archive_e2e.sandbox.state
    rec = new_recording(archive_e2e, [16 * KIB])
    [f] = rfiles(rec)
    state.download_faults.redirect(f.file_id, trap)
    token = state.issue_download_token()
    archive_e2e.stack.send_event(envelope("recording.completed", rec, token), "corr-foreign")
    entry = dead_letter(archive_e2e, f"dl-{f.file_id}")
    assert entry.error["type"] == "DownloadRefused"
    assert entry.attempts == 1
    assert _Trap.seen == []
    assert storage(archive_e2e).stored(storage(archive_e2e).key_for(f)) is None


def test_an_unknown_connection_is_reported_not_retried(archive_e2e: ArchiveE2E) -> None:
    """An event (replayed, or from a receiver configured apart) for a connection this worker
    does not know: the archive's run is dead-lettered at once, naming the connection."""
    rec = new_recording(archive_e2e, [8 * KIB])
    event = envelope("recording.completed", rec, "tok")
    meta = {"connection": "ghost", "correlation_id": "corr-ghost", "dedup_key": "ghost-1"}
    archive_e2e.stack.app.send_task(
        EVENT_TASK, args=[event], kwargs={"meta": meta}, task_id="ev-ghost", queue="events"
    )
    store = DeadLetterStore(archive_e2e.stack.redis)

    def ghostly() -> DeadLetter | None:
        found = [e for e in store.entries(500) if "ghost" in str(e.error.get("message"))]
        return found[0] if found else None

    entry = wait_for(ghostly, 30, "the ghost connection's dead letter")
    assert entry.error["type"] == "ConfigurationError"
    assert "ghost" in entry.error["message"]
    assert entry.attempts == 1
    [f] = rfiles(rec)
    assert cdn_offsets(archive_e2e, f.file_id) == []
    store.remove(entry.id)


def test_a_meeting_zoom_no_longer_has_is_reported_not_retried(archive_e2e: ArchiveE2E) -> None:
    """Recordings gone from Zoom (trashed): with the event's token the download is a 404,
    without one getMeetingRecordings is 3301; both dead-lettered at once as RecordingGone."""
    state = archive_e2e.sandbox.state
    rec = new_recording(archive_e2e, [8 * KIB, 4 * KIB])
    f1, f2 = rfiles(rec)
    uuid = quote(quote(rec["uuid"], safe=""), safe="")
    gone = httpx.delete(
        f"{archive_e2e.sandbox.api_base_url}/meetings/{uuid}/recordings",
        params={"action": "delete"},
        headers={"Authorization": f"Bearer {account_token(archive_e2e.sandbox)}"},
    )
    assert gone.status_code == 204
    app = archive_e2e.stack.app
    app.send_task(
        DOWNLOAD_FILE_TASK, args=[f1.to_dict(), "default"],
        kwargs={"download_token": state.issue_download_token()}, task_id=f"dl-{f1.file_id}",
    )  # fmt: skip
    app.send_task(DOWNLOAD_FILE_TASK, args=[f2.to_dict(), "default"], task_id=f"dl-{f2.file_id}")
    for f in (f1, f2):
        entry = dead_letter(archive_e2e, f"dl-{f.file_id}")
        assert entry.error["type"] == "RecordingGone"
        assert entry.attempts == 1


def test_a_cdn_that_always_cuts_off_is_resumed_then_dead_lettered(
    archive_e2e: ArchiveE2E,
) -> None:
    """Every CDN response cut after 100 KiB: each retry resumes where the last stopped
    (Range log 0, 100K, 200K), then the dead letter names the bytes reached; the file
    never becomes visible."""
    state = archive_e2e.sandbox.state
    rec = new_recording(archive_e2e, [MIB])
    [f] = rfiles(rec)
    state.download_faults.cut(f.file_id, after=100 * KIB, count=None)
    token = state.issue_download_token()
    archive_e2e.stack.send_event(envelope("recording.completed", rec, token), "corr-cut")
    entry = dead_letter(archive_e2e, f"dl-{f.file_id}")
    assert entry.error["type"] == "IncompleteDownload"
    attempts = entry.attempts
    assert attempts >= 2
    assert entry.error["reached"] == attempts * 100 * KIB
    assert cdn_offsets(archive_e2e, f.file_id) == [i * 100 * KIB for i in range(attempts)]
    assert storage(archive_e2e).stored(storage(archive_e2e).key_for(f)) is None
    assert f.file_id not in manifest_of(archive_e2e, f).get("files", {})


def test_two_deliveries_of_one_file_download_it_once(archive_e2e: ArchiveE2E) -> None:
    """Two copies of one download at once (what a visibility timeout redelivers): one takes
    the file's lock and downloads, the other waits (FileLocked), then finds it stored."""
    rec = new_recording(archive_e2e, [GIB // 4])
    [f] = rfiles(rec)
    token = archive_e2e.sandbox.state.issue_download_token()
    for _ in range(2):
        archive_e2e.stack.app.send_task(
            DOWNLOAD_FILE_TASK,
            args=[f.to_dict(), "default"],
            kwargs={"download_token": token},
            task_id=f"dl-{f.file_id}",
        )
    wait_for(
        lambda: archive_e2e.log_events("archive.skipped", file_id=f.file_id),
        60,
        "the second copy to find the file stored",
    )
    waits = [
        line
        for line in archive_e2e.log_events("task.retry", task_id=f"dl-{f.file_id}")
        if line.get("reason") == "file_locked"
    ]
    assert waits
    assert cdn_offsets(archive_e2e, f.file_id) == [0]
    assert_identical(archive_e2e, f)
