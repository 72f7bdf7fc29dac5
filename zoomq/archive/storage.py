"""Where archived files go: the protocol both backends implement, and the key layout.

A file becomes visible under its key only once it is complete and verified
(``Upload.commit``); until then its bytes sit in a partial file (local) or an
in-progress multipart upload (S3), from which the next attempt resumes.
"""

from __future__ import annotations

import base64
import importlib
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from zoomq.archive.files import RecordingFile
from zoomq.errors import ConfigurationError
from zoomq.settings import DEFAULT_ARCHIVE_LAYOUT

if TYPE_CHECKING:
    import hashlib

__all__ = [
    "DEFAULT_ARCHIVE_LAYOUT",
    "LAYOUT_FIELDS",
    "MANIFEST_NAME",
    "Storage",
    "StoredFile",
    "Upload",
    "check_layout",
    "layout_values",
    "open_storage",
    "render_key",
    "safe_segment",
]

#: A meeting's manifest, beside its files (in the directory of the file's key).
MANIFEST_NAME = "manifest.json"

#: What a layout template may name.
LAYOUT_FIELDS = frozenset(
    {
        "account",
        "connection",
        "yyyy",
        "mm",
        "dd",
        "meeting_id",
        "meeting_uuid",
        "file_id",
        "file_type",
        "recording_type",
        "ext",
        "kind",
    }
)


@dataclass(frozen=True)
class StoredFile:
    """A complete, visible file: its key, byte count and SHA-256 (hex)."""

    key: str
    size: int
    sha256: str


class Upload(Protocol):
    """One file being written; nothing is visible under its key before ``commit``."""

    #: Bytes already safely stored: where the download resumes.
    offset: int

    def write(self, chunk: bytes) -> None:
        """Append bytes; raises ``StorageError`` naming the path or bucket."""

    def commit(self, *, expected_size: int, sha256: str) -> StoredFile:
        """Make it visible; ``IncompleteDownload`` if not exactly ``expected_size`` bytes."""

    def abort(self) -> None:
        """Drop what was written (it is unusable, e.g. not the file at all)."""

    def resume_hash(self) -> hashlib._Hash:
        """A sha256 already fed with the ``offset`` bytes stored, to finish the digest."""


class Storage(Protocol):
    """A place to archive files: a local directory, or an S3 bucket and prefix."""

    def key_for(self, f: RecordingFile) -> str:
        """The file's key, from the layout template."""

    def stored(self, key: str) -> StoredFile | None:
        """The complete, visible file under ``key``, if there is one."""

    def begin(self, key: str) -> Upload:
        """Start writing ``key``, resuming an upload in progress for it if there is one."""

    def read_manifest(self, meeting_key: str) -> dict[str, Any] | None:
        """The manifest under ``meeting_key``, if any."""

    def write_manifest(self, meeting_key: str, manifest: Mapping[str, Any]) -> None:
        """Replace the manifest at once: readers see the old one or the new one."""

    def manifest_key_for(self, f: RecordingFile) -> str:
        """The key of the manifest of ``f``'s meeting."""

    def describe(self) -> str:
        """Where this is, for messages: ``/data/archive``, ``s3://bucket/prefix``."""


def safe_segment(value: str) -> str:
    """``value`` as one path segment, the same in every backend.

    Meeting UUIDs are base64 and may hold ``/``, ``+`` and ``=``: ``/`` would make
    directories, ``+`` and ``=`` trouble URLs and shells. A value of letters, digits
    and ``-_.`` is kept as it is; any other (or one starting with ``.`` or ``b64-``) is
    written ``b64-`` + its URL-safe base64 without padding: reversible, and never equal
    to a kept value, so two UUIDs never share a directory.
    """
    if value and _SAFE.issuperset(value) and not value.startswith((".", "b64-")):
        return value
    encoded = base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")
    return f"b64-{encoded}"


_SAFE = frozenset(string.ascii_letters + string.digits + "-_.")


def layout_values(f: RecordingFile) -> dict[str, str]:
    """The template's fields for ``f``, each already a safe segment."""
    when = _parse_time(f.start_time)
    raw = {
        "account": f.account,
        "connection": f.connection,
        "yyyy": f"{when.year:04d}" if when else "0000",
        "mm": f"{when.month:02d}" if when else "00",
        "dd": f"{when.day:02d}" if when else "00",
        "meeting_id": f.meeting_id,
        "meeting_uuid": f.meeting_uuid,
        "file_id": f.file_id,
        "file_type": f.file_type,
        "recording_type": f.recording_type,
        "ext": f.file_extension or "bin",
        "kind": f.kind,
    }
    return {k: safe_segment(v) for k, v in raw.items()}


def render_key(layout: str, f: RecordingFile) -> str:
    """The key of ``f`` under ``layout``; ``ConfigurationError`` for an unknown field."""
    check_layout(layout)
    return layout.format_map(layout_values(f))


def check_layout(layout: str) -> None:
    """``ConfigurationError`` unless ``layout`` names only known fields and ends in a file."""
    names = {name for _, name, _, _ in string.Formatter().parse(layout) if name is not None}
    unknown = names - LAYOUT_FIELDS
    if unknown:
        raise ConfigurationError(
            f"ZOOMQ_ARCHIVE_LAYOUT names unknown field(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(LAYOUT_FIELDS))}"
        )
    if "file_id" not in names:
        raise ConfigurationError("ZOOMQ_ARCHIVE_LAYOUT must contain {file_id}: keys must differ")
    if layout.startswith("/") or any(p in ("", ".", "..") for p in layout.split("/")):
        raise ConfigurationError(f"ZOOMQ_ARCHIVE_LAYOUT {layout!r} is not a relative path")


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def open_storage(
    dest: str, *, layout: str = DEFAULT_ARCHIVE_LAYOUT, s3_options: Mapping[str, Any] | None = None
) -> Storage:
    """``s3://bucket/prefix`` -> ``S3Storage`` (boto3 loaded only then), else ``LocalStorage``."""
    check_layout(layout)
    if dest.startswith("s3://"):
        # By name, so that boto3 loads only for an S3 destination.
        s3 = importlib.import_module("zoomq.archive.s3")
        remote: Storage = s3.S3Storage(dest, layout=layout, **dict(s3_options or {}))
        return remote
    scheme = dest.partition("://")[0] if "://" in dest else ""
    if scheme and scheme != "file":
        raise ConfigurationError(
            f"archive destination {dest!r}: a directory or s3://bucket/prefix, not {scheme}://"
        )
    dest = dest.removeprefix("file://")
    # By name too: local.py imports this module.
    local = importlib.import_module("zoomq.archive.local")
    directory: Storage = local.LocalStorage(dest, layout=layout)
    return directory
