"""The recording archive: Zoom recording files streamed, verified, and stored exactly once.

``files`` says what a recording's files are and which to take, ``storage`` where they
go (``local``, ``s3``), ``download`` how one is fetched: resumably, in constant memory,
with the token only ever sent to Zoom.
"""

from zoomq.archive.download import download, download_hosts
from zoomq.archive.files import ArchiveFilter, RecordingFile, files_of, phone_files_of
from zoomq.archive.local import LocalStorage
from zoomq.archive.storage import (
    DEFAULT_ARCHIVE_LAYOUT,
    Storage,
    StoredFile,
    Upload,
    open_storage,
    safe_segment,
)
from zoomq.errors import (
    ArchiveError,
    DownloadRefused,
    DownloadUnauthorized,
    FileLocked,
    IncompleteDownload,
    RecordingGone,
    StorageError,
)

__all__ = [
    "DEFAULT_ARCHIVE_LAYOUT",
    "ArchiveError",
    "ArchiveFilter",
    "DownloadRefused",
    "DownloadUnauthorized",
    "FileLocked",
    "IncompleteDownload",
    "LocalStorage",
    "RecordingFile",
    "RecordingGone",
    "Storage",
    "StorageError",
    "StoredFile",
    "Upload",
    "download",
    "download_hosts",
    "files_of",
    "open_storage",
    "phone_files_of",
    "safe_segment",
]
