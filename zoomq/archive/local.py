"""Archive storage in a local directory: partial files, fsync, and an atomic rename.

A file is written to ``<key>.part`` beside its final path and renamed onto it
(``os.replace``) only once it has exactly Zoom's ``file_size`` bytes and both the file
and its directory are fsynced, so a crash never leaves a short file under the real
name. A ``.part`` left behind is where the next attempt resumes. A manifest is written
to a temporary file and renamed the same way.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from io import FileIO
from pathlib import Path
from typing import Any, BinaryIO

from zoomq.archive.files import RecordingFile
from zoomq.archive.storage import (
    DEFAULT_ARCHIVE_LAYOUT,
    MANIFEST_NAME,
    StoredFile,
    check_layout,
    render_key,
)
from zoomq.errors import IncompleteDownload, StorageError

__all__ = ["DIGEST_SUFFIX", "PART_SUFFIX", "WRITE_BEHIND", "LocalStorage", "LocalUpload", "Opener"]

#: The partial file of a key: ``<key>.part``.
PART_SUFFIX = ".part"

#: Where a complete file's SHA-256 is remembered: ``<key>.sha256`` beside it.
DIGEST_SUFFIX = ".sha256"

_READ = 1 << 20

#: Bytes appended between two hints that the kernel write the partial file out now
#: (``POSIX_FADV_DONTNEED``: start writeback, drop pages already on disk): the fsync
#: at commit then waits for the last few MiB instead of the whole file, and archiving
#: many GiB does not fill the page cache with files nobody reads back.
WRITE_BEHIND = 8 << 20


def _storage_error(exc: OSError, path: Path, doing: str) -> StorageError:
    """A ``StorageError`` whose message names the path and says what went wrong."""
    if exc.errno == errno.ENOSPC:
        why = "disk full"
    elif exc.errno == errno.EDQUOT:
        why = "quota exceeded"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "permission denied"
    elif exc.errno == errno.EFBIG:
        why = "file too large"
    else:
        why = exc.strerror or type(exc).__name__
    return StorageError(f"cannot {doing} {path}: {why}", where=str(path))


def _write_behind(file: BinaryIO, start: int, end: int) -> None:
    """Ask the kernel to write ``[start, end)`` of ``file`` out and forget what is written."""
    advise = getattr(os, "posix_fadvise", None)  # not on macOS
    if advise is None:
        return
    with contextlib.suppress(OSError, ValueError):  # a hint: commit's fsync still counts
        advise(file.fileno(), start, end - start, os.POSIX_FADV_DONTNEED)


def _fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` survive a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: Opens a partial file for appending, unbuffered (``FileIO(path, "ab")``).
Opener = Callable[[Path], BinaryIO]


def _append(path: Path) -> BinaryIO:
    return FileIO(path, "ab")


class LocalUpload:
    """One file being written to ``<final>.part``, appended to from ``offset``.

    The partial file is opened for each write and closed again, unbuffered: ``offset``
    is always what the file holds, and an upload dropped half-way (an exception, a
    killed task) leaves no descriptor open, only the partial file to resume from.
    """

    def __init__(self, final: Path, key: str, opener: Opener = _append) -> None:
        self.final = final
        self.part = final.with_name(final.name + PART_SUFFIX)
        self.key = key
        self._opener = opener
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            self.offset = self.part.stat().st_size if self.part.exists() else 0
        except OSError as exc:
            raise _storage_error(exc, self.part, "write") from exc
        # Where the last two write-behind hints began: each covers the window before too,
        # whose pages are on disk by then and can be dropped.
        self._hinted = self._behind = self.offset

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``; ``offset`` counts only what the file took."""
        view = memoryview(chunk)
        try:
            with self._opener(self.part) as file:
                while view:
                    written = file.write(view) or 0
                    self.offset += written
                    view = view[written:]
                if self.offset - self._hinted >= WRITE_BEHIND:
                    _write_behind(file, self._behind, self.offset)
                    self._behind, self._hinted = self._hinted, self.offset
        except OSError as exc:
            raise _storage_error(exc, self.part, "write") from exc

    def flush(self) -> None:
        """Data and size on disk: what a resume after a crash may count on."""
        try:
            with self._opener(self.part) as file:
                os.fsync(file.fileno())
        except OSError as exc:
            raise _storage_error(exc, self.part, "write") from exc

    def resume_hash(self) -> hashlib._Hash:
        """A sha256 of the ``offset`` bytes already in the partial file (read back)."""
        digest = hashlib.sha256()
        if self.offset == 0:
            return digest
        left = self.offset
        try:
            with open(self.part, "rb") as existing:
                while left > 0:
                    block = existing.read(min(_READ, left))
                    if not block:
                        break
                    digest.update(block)
                    left -= len(block)
        except OSError as exc:
            raise _storage_error(exc, self.part, "read") from exc
        if left:
            raise StorageError(f"{self.part} shrank while resuming", where=str(self.part))
        return digest

    def commit(self, *, expected_size: int, sha256: str) -> StoredFile:
        """Fsync, check the byte count, rename onto the final path, fsync the directory."""
        self.flush()
        # What is on disk, not what this upload counted: two writers of one .part (a lock
        # that lapsed) must never make a file that only looks complete.
        try:
            on_disk = os.stat(self.part).st_size
        except OSError as exc:
            raise _storage_error(exc, self.part, "store") from exc
        if on_disk != self.offset:
            self.abort()
            raise IncompleteDownload(
                f"{self.key}: {on_disk} bytes on disk, {self.offset} written here; starting over",
                reached=0,
                expected=expected_size,
            )
        if self.offset != expected_size:
            raise IncompleteDownload(
                f"{self.key}: {self.offset} of {expected_size} bytes",
                reached=self.offset,
                expected=expected_size,
            )
        digest_path = self.final.with_name(self.final.name + DIGEST_SUFFIX)
        try:
            _write_atomically(digest_path, f"{sha256}  {self.final.name}\n".encode())
            os.replace(self.part, self.final)
            _fsync_dir(self.final.parent)
        except OSError as exc:
            raise _storage_error(exc, self.final, "store") from exc
        return StoredFile(key=self.key, size=expected_size, sha256=sha256)

    def abort(self) -> None:
        """Remove the partial file: what it holds is not this file."""
        try:
            self.part.unlink(missing_ok=True)
        except OSError as exc:
            raise _storage_error(exc, self.part, "remove") from exc
        self.offset = 0


def _write_atomically(path: Path, data: bytes) -> None:
    """``data`` at ``path``, fsynced, replacing any old file in one rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


class LocalStorage:
    """Files under one directory, laid out by the template (``{account}/{yyyy}-{mm}/...``)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        layout: str = DEFAULT_ARCHIVE_LAYOUT,
        opener: Opener = _append,
    ) -> None:
        check_layout(layout)
        self.root = Path(root).expanduser().absolute()
        self.layout = layout
        #: How partial files are opened (a wrapper can stand in for a full disk).
        self.opener = opener

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise StorageError(f"key {key!r} leaves {self.root}", where=str(self.root))
        return path

    def key_for(self, f: RecordingFile) -> str:
        return render_key(self.layout, f)

    def manifest_key_for(self, f: RecordingFile) -> str:
        parent = self.key_for(f).rpartition("/")[0]
        return f"{parent}/{MANIFEST_NAME}" if parent else MANIFEST_NAME

    def stored(self, key: str) -> StoredFile | None:
        path = self._path(key)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _storage_error(exc, path, "read") from exc
        digest = path.with_name(path.name + DIGEST_SUFFIX)
        try:
            sha256 = digest.read_text().split()[0]
        except (OSError, IndexError):
            sha256 = ""
        return StoredFile(key=key, size=size, sha256=sha256)

    def begin(self, key: str) -> LocalUpload:
        return LocalUpload(self._path(key), key, self.opener)

    def read_manifest(self, meeting_key: str) -> dict[str, Any] | None:
        path = self._path(meeting_key)
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _storage_error(exc, path, "read") from exc
        except ValueError as exc:
            raise StorageError(f"{path} is not a JSON manifest: {exc}", where=str(path)) from exc
        return data if isinstance(data, dict) else None

    def write_manifest(self, meeting_key: str, manifest: Mapping[str, Any]) -> None:
        path = self._path(meeting_key)
        data = json.dumps(manifest, indent=2, sort_keys=True, default=str).encode() + b"\n"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(path, data)
        except OSError as exc:
            raise _storage_error(exc, path, "write") from exc

    def describe(self) -> str:
        return str(self.root)
