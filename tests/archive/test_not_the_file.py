"""Answers that are not the file are never stored: pages, wrong sizes, wrong types, dead
hosts, partials longer than the file, and a .part someone else wrote into."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.client.listener import Answer, Listener, Seen
from zoomq.archive import DownloadUnauthorized, IncompleteDownload, LocalStorage, RecordingFile
from zoomq.archive.download import download, download_hosts
from zoomq.archive.http11 import Http11
from zoomq.archive.local import PART_SUFFIX
from zoomq.redis_server import free_port

SIZE = 200_000
PAGE = b"<!DOCTYPE html><html><body>Please sign in to download.</body></html>"


def _file(url: str, extension: str = "mp4", size: int = SIZE) -> RecordingFile:
    return RecordingFile(
        account="acc", connection="default", meeting_id="1", meeting_uuid="u==",
        topic="T", start_time="2026-11-30T10:00:00Z", file_id="f1", file_type="MP4",
        file_extension=extension, recording_type="shared_screen", file_size=size,
        download_url=url, status="completed",
    )  # fmt: skip


def _serving(status: int, headers: dict[str, str], body: bytes) -> Listener:
    def answer(_: Seen) -> Answer:
        return status, headers, body

    return Listener(answer)


def _fetch(storage: LocalStorage, f: RecordingFile) -> None:
    download(
        Http11(timeout=10, connect_timeout=5),
        f,
        storage.begin(storage.key_for(f)),
        token="tok",
        allowed_hosts=download_hosts(["127.0.0.1"]),
    )


def _nothing_stored(storage: LocalStorage, f: RecordingFile) -> bool:
    final = storage.root / storage.key_for(f)
    part = final.with_name(final.name + PART_SUFFIX)
    return not final.exists() and (not part.exists() or part.stat().st_size == 0)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        # A page whose markup starts after a newline, sized as a page, sent as a download.
        ({"Content-Type": "application/octet-stream"}, b"\n" + PAGE),
        # Pages padded to the file's very size: caught by their first bytes.
        ({"Content-Type": "application/octet-stream"}, (b"\xef\xbb\xbf" + PAGE).ljust(SIZE)),
        ({"Content-Type": "video/mp4"}, (b'<?xml version="1.0"?>\n' + PAGE).ljust(SIZE)),
        ({"Content-Type": "video/mp4"}, (b"<!-- cdn -->\n" + PAGE).ljust(SIZE)),
        # A JSON or text error where media was expected, even of the right size.
        ({"Content-Type": "application/json"}, b'{"error": "expired"}'.ljust(SIZE)),
        ({"Content-Type": "text/plain"}, b"Access denied".ljust(SIZE)),
    ],
)
def test_a_page_or_error_is_refused_and_nothing_is_stored(
    tmp_path: Path, headers: dict[str, str], body: bytes
) -> None:
    """Refused as unauthorized (the caller fetches a fresh token); no byte is stored."""
    storage = LocalStorage(tmp_path)
    with _serving(200, headers, body) as cdn:
        f = _file(f"{cdn.url}/rec/f1")
        with pytest.raises(DownloadUnauthorized):
            _fetch(storage, f)
    assert _nothing_stored(storage, f)


def test_a_partial_answer_for_another_size_is_refused(tmp_path: Path) -> None:
    """A 206 whose Content-Range total is not the file's size is not this file."""
    storage = LocalStorage(tmp_path)
    f0 = _file("http://127.0.0.1:1/x")
    part = storage.root / storage.key_for(f0)
    part = part.with_name(part.name + PART_SUFFIX)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 1000)
    headers = {
        "Content-Type": "video/mp4",
        "Content-Range": f"bytes 1000-{SIZE * 5 - 1}/{SIZE * 5}",
    }
    with _serving(206, headers, b"y" * (SIZE * 5 - 1000)) as cdn:
        f = _file(f"{cdn.url}/rec/f1")
        with pytest.raises(DownloadUnauthorized, match="bytes, the file"):
            _fetch(storage, f)
    assert not (storage.root / storage.key_for(f)).exists()


def test_a_host_that_cannot_be_reached_is_an_incomplete_download(tmp_path: Path) -> None:
    """A connection refused before any header: retryable, not a raw httpx error."""
    storage = LocalStorage(tmp_path)
    f = _file(f"http://127.0.0.1:{free_port()}/rec/f1")
    with pytest.raises(IncompleteDownload, match="could not be reached"):
        _fetch(storage, f)


def test_a_partial_longer_than_the_file_is_dropped(tmp_path: Path) -> None:
    """More bytes stored than the file has: the partial goes, the next attempt starts at 0."""
    storage = LocalStorage(tmp_path)
    body = b"z" * SIZE
    with _serving(200, {"Content-Type": "video/mp4"}, body) as cdn:
        f = _file(f"{cdn.url}/rec/f1")
        part = storage.root / storage.key_for(f)
        part = part.with_name(part.name + PART_SUFFIX)
        part.parent.mkdir(parents=True)
        part.write_bytes(b"x" * (SIZE + 8))
        with pytest.raises(IncompleteDownload) as caught:
            _fetch(storage, f)
        assert caught.value.reached == 0
        assert not part.exists()
        _fetch(storage, f)
    assert (storage.root / storage.key_for(f)).read_bytes() == body


def test_a_part_another_writer_grew_is_never_committed(tmp_path: Path) -> None:
    """If the .part holds more than this upload wrote (two writers), commit refuses it."""
    storage = LocalStorage(tmp_path)
    f = _file("http://127.0.0.1:1/x", size=10)
    upload = storage.begin(storage.key_for(f))
    upload.write(b"0123456789")
    part = storage.root / (storage.key_for(f) + PART_SUFFIX)
    with part.open("ab") as other:
        other.write(b"more")
    with pytest.raises(IncompleteDownload, match="on disk"):
        upload.commit(expected_size=10, sha256="0" * 64)
    assert not (storage.root / storage.key_for(f)).exists()
    assert not part.exists()


def test_zoom_hosts_get_the_token_over_https_only(tmp_path: Path) -> None:
    """http://…zoom.us is refused before a request is made: the token would travel in clear."""
    from zoomq.archive import DownloadRefused

    storage = LocalStorage(tmp_path)
    with pytest.raises(DownloadRefused, match="https only"):
        _fetch(storage, _file("http://us02web.zoom.us/rec/download/f1"))


def test_a_file_size_that_is_not_a_number_is_unknown_not_a_crash() -> None:
    """One odd file in a listing does not stop the whole sync or event."""
    from zoomq.archive.files import files_of

    recording = {
        "id": 1,
        "uuid": "u==",
        "recording_files": [
            {"id": "a", "download_url": "https://x.zoom.us/a", "file_size": "12.5"},
            {"id": "b", "download_url": "https://x.zoom.us/b", "file_size": 7},
        ],
    }
    sizes = [f.file_size for f in files_of(recording, connection="default", account="acc")]
    assert sizes == [0, 7]
