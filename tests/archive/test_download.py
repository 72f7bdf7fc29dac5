"""Downloads over real HTTP from the sandbox: byte-identical, resumable, and safe with tokens."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import io
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs

import pytest

from tests.archive.conftest import MIB
from tests.client.listener import Listener
from zoomq.archive import (
    DownloadRefused,
    DownloadUnauthorized,
    IncompleteDownload,
    LocalStorage,
    RecordingFile,
    RecordingGone,
    StorageError,
    download,
    download_hosts,
)
from zoomq.archive.http11 import Http11
from zoomq.archive.local import PART_SUFFIX
from zoomq.sandbox import SandboxServer
from zoomq.sandbox.content import expected_bytes, expected_sha256

Allowed = Callable[[str], bool]
MakeFile = Callable[..., RecordingFile]


def _final_and_part(storage: LocalStorage, f: RecordingFile) -> tuple[Path, Path]:
    final = storage.root / storage.key_for(f)
    return final, final.with_name(final.name + PART_SUFFIX)


def test_a_file_downloads_byte_identical_and_is_visible_only_after_commit(
    sandbox: SandboxServer,
    http: Http11,
    storage: LocalStorage,
    token: str,
    allowed: Allowed,
    recording_file: MakeFile,
) -> None:
    """The SHA-256 is the sandbox's; mid-download only the .part exists."""
    f = recording_file(5 * MIB + 123)
    final, part = _final_and_part(storage, f)
    seen: list[tuple[bool, bool]] = []

    def progress(stored: int) -> None:
        if stored:  # bytes stored (a 0 is the lock's heartbeat, also before the first write)
            seen.append((part.exists(), final.exists()))

    key = storage.key_for(f)
    stored = download(
        http, f, storage.begin(key), token=token, allowed_hosts=allowed, progress=progress
    )

    assert stored.size == f.file_size
    assert stored.sha256 == expected_sha256(f.file_id, f.file_size)
    assert hashlib.sha256(final.read_bytes()).hexdigest() == stored.sha256
    assert not part.exists()
    assert seen
    assert all(p and not v for p, v in seen)
    assert storage.stored(key) == stored


def test_a_cut_off_keeps_the_part_and_the_next_call_resumes_from_there(
    sandbox: SandboxServer,
    http: Http11,
    storage: LocalStorage,
    token: str,
    allowed: Allowed,
    recording_file: MakeFile,
) -> None:
    """IncompleteDownload names the bytes reached; the retry asks Range from exactly there."""
    f = recording_file(4 * MIB)
    cut = 1_500_001
    sandbox.state.download_faults.cut(f.file_id, after=cut)
    key = storage.key_for(f)
    final, part = _final_and_part(storage, f)

    with pytest.raises(IncompleteDownload) as raised:
        download(http, f, storage.begin(key), token=token, allowed_hosts=allowed, chunk_size=MIB)
    assert raised.value.reached == cut
    assert raised.value.to_dict()["reached"] == cut
    assert part.stat().st_size == cut
    assert not final.exists()
    assert storage.stored(key) is None

    upload = storage.begin(key)
    assert upload.offset == cut
    stored = download(http, f, upload, token=token, allowed_hosts=allowed)

    assert sandbox.state.range_log[f.file_id] == [0, cut]
    assert stored.sha256 == expected_sha256(f.file_id, f.file_size)
    assert hashlib.sha256(final.read_bytes()).hexdigest() == stored.sha256
    assert not part.exists()


def test_a_server_that_ignores_the_range_still_gives_the_whole_file(
    sandbox: SandboxServer,
    http: Http11,
    storage: LocalStorage,
    token: str,
    allowed: Allowed,
    recording_file: MakeFile,
) -> None:
    """A 200 to a Range request: the stored start is kept, the body's start dropped."""
    f = recording_file(2 * MIB)
    sandbox.state.download_faults.cut(f.file_id, after=700_000)
    key = storage.key_for(f)
    with pytest.raises(IncompleteDownload):
        download(http, f, storage.begin(key), token=token, allowed_hosts=allowed)

    whole = expected_bytes(f.file_id, 0, f.file_size)
    with Listener(lambda _: (200, {"Content-Type": "video/mp4"}, whole)) as cdn:
        moved = dataclasses.replace(f, download_url=f"{cdn.url}/rec/{f.file_id}")
        stored = download(
            http,
            moved,
            storage.begin(key),
            token=token,
            allowed_hosts=download_hosts(["127.0.0.1"]),
        )
        assert [seen.headers.get("range") for seen in cdn.seen] == ["bytes=700000-"]
    assert stored.sha256 == expected_sha256(f.file_id, f.file_size)
    assert storage.root.joinpath(key).read_bytes() == whole


def test_an_html_page_is_unauthorized_and_writes_nothing(
    sandbox: SandboxServer,
    http: Http11,
    storage: LocalStorage,
    allowed: Allowed,
    recording_file: MakeFile,
) -> None:
    """Zoom's 200 login page for a bad token is never stored as the file."""
    f = recording_file(MIB)
    final, part = _final_and_part(storage, f)
    with pytest.raises(DownloadUnauthorized):
        download(http, f, storage.begin(storage.key_for(f)), token="bad", allowed_hosts=allowed)
    assert not final.exists()
    assert not part.exists() or part.stat().st_size == 0


def test_a_missing_file_is_gone(
    sandbox: SandboxServer,
    http: Http11,
    storage: LocalStorage,
    token: str,
    allowed: Allowed,
    recording_file: MakeFile,
) -> None:
    """A 404 from the download URL: RecordingGone, not retried."""
    f = recording_file(MIB)
    del sandbox.state.store.files[f.file_id]
    with pytest.raises(RecordingGone):
        download(http, f, storage.begin(storage.key_for(f)), token=token, allowed_hosts=allowed)


def test_a_redirect_to_a_foreign_host_is_refused_before_any_request_reaches_it(
    sandbox: SandboxServer,
    http: Http11,
    storage: LocalStorage,
    token: str,
    allowed: Allowed,
    recording_file: MakeFile,
) -> None:
    """The trap, another port on 127.0.0.1, is not allowed: it never sees a request."""
    f = recording_file(MIB)
    with Listener() as trap:
        sandbox.state.download_faults.redirect(f.file_id, f"{trap.url}/steal?x=1")
        with pytest.raises(DownloadRefused, match=r"127\.0\.0\.1"):
            download(http, f, storage.begin(storage.key_for(f)), token=token, allowed_hosts=allowed)
        assert trap.seen == []
    final, _ = _final_and_part(storage, f)
    assert not final.exists()


def test_a_download_url_not_on_a_zoom_host_is_never_requested(
    http: Http11, storage: LocalStorage, token: str, recording_file: MakeFile
) -> None:
    """Even the first URL must be Zoom's: the token is not sent anywhere else."""
    f = recording_file(MIB)
    with Listener() as trap:
        with pytest.raises(DownloadRefused):
            download(
                http,
                f,
                storage.begin(storage.key_for(f)),
                token=token,
                allowed_hosts=lambda host: host.endswith("zoom.us"),
            )
        assert trap.seen == []


def test_the_token_goes_as_a_bearer_header_and_only_to_the_first_host(
    sandbox: SandboxServer,
    http: Http11,
    storage: LocalStorage,
    token: str,
    recording_file: MakeFile,
) -> None:
    """Never ``?access_token=``; the CDN, on another (allowed) host, gets no Authorization."""
    f = recording_file(MIB)
    cdn = sandbox.state.signer.url(f.file_id).replace("127.0.0.1", "localhost", 1)
    sandbox.state.download_faults.redirect(f.file_id, cdn)
    hosts = {f"127.0.0.1:{sandbox.port}", f"localhost:{sandbox.port}"}
    stored = download(
        http,
        f,
        storage.begin(storage.key_for(f)),
        token=token,
        allowed_hosts=hosts.__contains__,
    )
    assert stored.sha256 == expected_sha256(f.file_id, f.file_size)
    log = [r for r in sandbox.state.download_log if r.file_id == f.file_id]
    assert [(r.path.split("/")[1], r.auth) for r in log] == [("rec", "bearer"), ("cdn", "none")]
    assert all("access_token" not in parse_qs(r.query) for r in log)
    assert token not in "".join(r.query for r in log)


def _reset_peak() -> bool:
    """Reset this process's peak RSS (VmHWM), where Linux allows it."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _peak_rss() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


SIZE = int(os.environ.get("ZOOMQ_TEST_BIG_FILE_MIB", "512")) * MIB


def test_a_large_file_streams_in_constant_memory(
    sandbox: SandboxServer,
    http: Http11,
    storage: LocalStorage,
    token: str,
    allowed: Allowed,
    recording_file: MakeFile,
) -> None:
    """Peak RSS grows by a few chunks, not by the file (sandbox and client in this process)."""
    f = recording_file(SIZE)
    key = storage.key_for(f)
    reset = _reset_peak()
    before = _peak_rss()
    digest = hashlib.sha256()
    started = time.monotonic()
    stored = download(http, f, storage.begin(key), token=token, allowed_hosts=allowed)
    elapsed = time.monotonic() - started
    growth = _peak_rss() - before
    final = storage.root / key
    assert stored.size == SIZE == final.stat().st_size
    with open(final, "rb") as written:
        while block := written.read(8 * MIB):
            digest.update(block)
    assert digest.hexdigest() == stored.sha256 == expected_sha256(f.file_id, SIZE)
    assert growth < 64 * MIB, f"peak RSS grew {growth / MIB:.0f} MiB (reset: {reset})"
    print(f"{SIZE / MIB:.0f} MiB in {elapsed:.1f}s, peak RSS +{growth / MIB:.1f} MiB")


class _DiskFillsUp:
    """A partial file on a disk with ``room`` bytes left (shared by every open): ENOSPC after."""

    def __init__(self, room: int) -> None:
        self.room = room

    def __call__(self, path: Path) -> BinaryIO:
        disk = self

        class Opened(io.FileIO):
            def write(self, data: Any) -> int:
                if disk.room <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                written = super().write(memoryview(data)[: disk.room]) or 0
                disk.room -= written
                return written

        return Opened(path, "ab")


def test_a_disk_that_fills_up_mid_download_names_the_part_and_keeps_what_it_took(
    sandbox: SandboxServer,
    http: Http11,
    tmp_path: Path,
    token: str,
    allowed: Allowed,
    recording_file: MakeFile,
) -> None:
    """The writing thread's ENOSPC reaches the caller as a StorageError naming the .part;
    the .part holds the file's first bytes exactly, and nothing is visible."""
    room = 2 * MIB + 4321
    storage = LocalStorage(tmp_path / "archive", opener=_DiskFillsUp(room))
    f = recording_file(6 * MIB)
    final, part = _final_and_part(storage, f)
    with pytest.raises(StorageError) as raised:
        download(http, f, storage.begin(storage.key_for(f)), token=token, allowed_hosts=allowed)
    assert "disk full" in str(raised.value)
    assert raised.value.where == str(part)
    assert part.read_bytes() == expected_bytes(f.file_id, 0, room)
    assert not final.exists()
    assert storage.stored(storage.key_for(f)) is None


def test_each_piece_is_read_into_a_buffer_of_its_own(
    sandbox: SandboxServer,
    http: Http11,
    storage: LocalStorage,
    token: str,
    allowed: Allowed,
    recording_file: MakeFile,
) -> None:
    """Storage gets the body in chunk_size pieces, and a piece handed on is never
    overwritten by a later read: the pieces, kept as given, are the file."""
    f = recording_file(8 * MIB + 5)
    upload = storage.begin(storage.key_for(f))
    given: list[Any] = []
    write = upload.write

    def keeping_write(chunk: bytes) -> None:
        if len(given) < 3:
            time.sleep(0.02)  # reads go on meanwhile
        given.append(chunk)  # the object itself, not a copy
        write(chunk)

    upload.write = keeping_write  # type: ignore[method-assign]
    stored = download(http, f, upload, token=token, allowed_hosts=allowed, chunk_size=MIB)
    assert stored.sha256 == expected_sha256(f.file_id, f.file_size)
    assert [len(piece) for piece in given] == [MIB] * 8 + [5]
    assert hashlib.sha256(b"".join(given)).hexdigest() == stored.sha256


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html; charset=utf-8", b"\x00\x00\x00\x18ftypmp42"),
        ("video/mp4", b"  <!DOCTYPE html><html><body>Sign in</body></html>"),
        ("application/octet-stream", b"<HTML><head></head></HTML>"),
    ],
)
def test_html_by_its_type_or_by_its_first_bytes_is_refused(
    storage: LocalStorage, content_type: str, body: bytes
) -> None:
    """Either sign of a web page is enough: a mislabelled login page is not an MP4."""
    f = RecordingFile.from_dict(
        {
            "account": "a",
            "connection": "c",
            "meeting_id": "1",
            "meeting_uuid": "u",
            "topic": "t",
            "start_time": "2025-06-03T10:00:00Z",
            "file_id": "f",
            "file_type": "MP4",
            "file_extension": "mp4",
            "recording_type": "x",
            "file_size": len(body),
            "download_url": "https://zoom.us/rec/download/f",
            "status": "completed",
        }
    )

    with Listener(lambda _: (200, {"Content-Type": content_type}, body)) as server:
        f = dataclasses.replace(f, download_url=f"{server.url}/rec/download/f")
        upload = storage.begin(storage.key_for(f))
        with pytest.raises(DownloadUnauthorized):
            download(
                Http11(timeout=5, connect_timeout=5),
                f,
                upload,
                token="t",
                allowed_hosts=download_hosts(["127.0.0.1"]),
            )
    assert upload.offset == 0
    assert storage.stored(storage.key_for(f)) is None
