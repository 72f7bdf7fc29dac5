"""LocalStorage: the layout, path-safe UUIDs, manifests, and errors that name the path."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from pathlib import Path
from typing import BinaryIO

import pytest

from zoomq.archive import (
    IncompleteDownload,
    LocalStorage,
    RecordingFile,
    StorageError,
    open_storage,
    safe_segment,
)
from zoomq.archive.local import PART_SUFFIX
from zoomq.errors import ConfigurationError


def _file(uuid: str = "4444AAAiAAAAAiAiAiiAii==", file_id: str = "f-1") -> RecordingFile:
    return RecordingFile(
        account="acct",
        connection="default",
        meeting_id="81234567890",
        meeting_uuid=uuid,
        topic="Weekly",
        start_time="2025-06-03T10:00:00Z",
        file_id=file_id,
        file_type="MP4",
        file_extension="mp4",
        recording_type="shared_screen_with_speaker_view",
        file_size=6,
        download_url="https://zoom.us/rec/download/f-1",
        status="completed",
    )


@pytest.mark.parametrize("uuid", ["/ab//cd+ef==", "a/b", "x+y=", "..", ".hidden", "b64-abc"])
def test_meeting_uuids_become_one_safe_distinct_segment(uuid: str, tmp_path: Path) -> None:
    """'/', '+', '=' never split or escape the layout; every UUID gets its own directory."""
    storage = LocalStorage(tmp_path)
    key = storage.key_for(_file(uuid))
    account, month, meeting, name = key.split("/")
    assert (account, month, name) == ("acct", "2025-06", "f-1.mp4")
    assert not set(meeting) & set("/+=")
    assert not meeting.startswith(".")
    assert meeting == safe_segment(uuid) != safe_segment(uuid + "x")
    upload = storage.begin(key)
    upload.write(b"abcdef")
    stored = upload.commit(expected_size=6, sha256=hashlib.sha256(b"abcdef").hexdigest())
    assert (tmp_path / key).read_bytes() == b"abcdef"
    assert (tmp_path / key).parent.parent == tmp_path / "acct" / "2025-06"
    assert storage.stored(key) == stored


def test_plain_values_are_kept_as_they_are() -> None:
    """An id of letters, digits and -_. stays readable in the path."""
    assert safe_segment("Ab-9_x.y") == "Ab-9_x.y"
    assert safe_segment("") != ""


def test_the_layout_is_a_template(tmp_path: Path) -> None:
    """Another template names other fields; unknown fields and escapes are refused."""
    storage = LocalStorage(tmp_path, layout="{yyyy}/{mm}/{dd}/{meeting_id}-{file_id}.{ext}")
    assert storage.key_for(_file()) == "2025/06/03/81234567890-f-1.mp4"
    assert storage.manifest_key_for(_file()) == "2025/06/03/manifest.json"
    for bad in ("{account}/{nope}/{file_id}", "{account}/x.{ext}", "../{file_id}", "/{file_id}"):
        with pytest.raises(ConfigurationError, match="ZOOMQ_ARCHIVE_LAYOUT"):
            LocalStorage(tmp_path, layout=bad)


def test_a_short_file_is_never_committed(tmp_path: Path) -> None:
    """commit with fewer bytes than expected raises and keeps only the .part."""
    storage = LocalStorage(tmp_path)
    key = storage.key_for(_file())
    upload = storage.begin(key)
    upload.write(b"abc")
    with pytest.raises(IncompleteDownload) as raised:
        upload.commit(expected_size=6, sha256="x")
    assert raised.value.reached == 3
    assert storage.stored(key) is None
    assert (tmp_path / (key + PART_SUFFIX)).read_bytes() == b"abc"
    resumed = storage.begin(key)
    assert resumed.offset == 3
    assert resumed.resume_hash().hexdigest() == hashlib.sha256(b"abc").hexdigest()


def test_abort_drops_the_partial_file(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    key = storage.key_for(_file())
    upload = storage.begin(key)
    upload.write(b"<html>")
    upload.abort()
    assert storage.begin(key).offset == 0
    assert not (tmp_path / (key + PART_SUFFIX)).exists()


class _FullDisk:
    """A partial file on a disk with ``room`` bytes left: then ENOSPC, as write(2) says."""

    def __init__(self, path: Path, room: int) -> None:
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115 - closed by __exit__
        self._room = room

    def write(self, data: memoryview) -> int:
        if self._room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = self._file.write(data[: self._room]) or 0
        self._room -= written
        return written

    def fileno(self) -> int:
        return self._file.fileno()

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


def test_a_full_disk_names_the_path_and_leaves_nothing_visible(tmp_path: Path) -> None:
    """ENOSPC mid-file: StorageError naming the .part, no final file, bytes so far kept."""
    room = [10]

    def opener(path: Path) -> BinaryIO:
        disk = _FullDisk(path, room[0])
        room[0] = 0  # what is written now fills the disk
        return disk  # type: ignore[return-value]

    storage = LocalStorage(tmp_path, opener=opener)
    key = storage.key_for(_file())
    upload = storage.begin(key)
    with pytest.raises(StorageError) as raised:
        upload.write(b"x" * 64)
    part = tmp_path / (key + PART_SUFFIX)
    assert str(part) in str(raised.value)
    assert "disk full" in str(raised.value)
    assert raised.value.where == str(part)
    assert upload.offset == 10 == part.stat().st_size
    assert storage.stored(key) is None
    assert not (tmp_path / key).exists()


def test_an_unwritable_destination_names_the_path(tmp_path: Path) -> None:
    """A destination that cannot hold directories (here a plain file) is a StorageError."""
    root = tmp_path / "not-a-directory"
    root.write_text("")
    storage = LocalStorage(root)
    with pytest.raises(StorageError, match=re.escape(str(root))):
        storage.begin(storage.key_for(_file()))


def test_a_manifest_is_replaced_atomically(tmp_path: Path) -> None:
    """Written by rename: no temporary file stays, the JSON reads back whole."""
    storage = LocalStorage(tmp_path)
    key = storage.manifest_key_for(_file())
    assert storage.read_manifest(key) is None
    storage.write_manifest(key, {"files": {"f-1": {"size": 6}}})
    storage.write_manifest(key, {"files": {"f-1": {"size": 6}, "f-2": {"size": 1}}})
    assert storage.read_manifest(key) == {"files": {"f-1": {"size": 6}, "f-2": {"size": 1}}}
    assert sorted(p.name for p in (tmp_path / key).parent.iterdir()) == ["manifest.json"]
    assert json.loads((tmp_path / key).read_text())["files"]["f-2"] == {"size": 1}


def test_open_storage_picks_the_backend(tmp_path: Path) -> None:
    """A directory gives LocalStorage; describe() says where."""
    storage = open_storage(str(tmp_path / "a"), layout="{file_id}.{ext}")
    assert isinstance(storage, LocalStorage)
    assert storage.describe() == str(tmp_path / "a")


def test_appending_hints_the_kernel_to_write_the_file_out_behind_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every WRITE_BEHIND bytes: DONTNEED over the last two windows, so commit's fsync waits
    for the tail only; the bytes are untouched by it, and a resumed upload hints from its
    offset on."""
    from zoomq.archive import local

    hints: list[tuple[int, int]] = []
    advise = os.posix_fadvise

    def spy(fd: int, offset: int, length: int, advice: int) -> None:
        assert advice == os.POSIX_FADV_DONTNEED
        hints.append((offset, offset + length))
        advise(fd, offset, length, advice)

    monkeypatch.setattr(local, "WRITE_BEHIND", 8192)
    monkeypatch.setattr(os, "posix_fadvise", spy)
    storage = LocalStorage(tmp_path)
    key = storage.key_for(_file())
    data = os.urandom(50_000)
    upload = storage.begin(key)
    for start in range(0, 30_000, 3000):
        upload.write(data[start : start + 3000])
    # At 9000, 18000 and 27000 bytes; each from where the hint before it began.
    assert hints == [(0, 9000), (0, 18000), (9000, 27000)]
    resumed = storage.begin(key)
    assert resumed.offset == 30_000
    hints.clear()
    resumed.write(data[30_000:])
    assert hints == [(30_000, 50_000)]
    stored = resumed.commit(expected_size=50_000, sha256=hashlib.sha256(data).hexdigest())
    assert (tmp_path / key).read_bytes() == data
    assert stored.size == 50_000
