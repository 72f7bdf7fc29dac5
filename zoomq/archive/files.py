"""What the archive downloads: one Zoom recording file, and which ones to take.

Zoom describes a cloud recording's files in ``recording_files`` of a recording object
(the ``payload.object`` of ``recording.completed`` and ``recording.transcript_completed``,
getMeetingRecordings' body, one meeting of listUsersRecordings), and a phone call
recording as one object with its own ``download_url``. Both become ``RecordingFile``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["ArchiveFilter", "RecordingFile", "files_of", "phone_files_of"]


@dataclass(frozen=True)
class RecordingFile:
    """One file of a recording, with what the archive needs to fetch and file it."""

    account: str
    connection: str
    meeting_id: str
    meeting_uuid: str
    topic: str
    start_time: str
    file_id: str
    file_type: str
    file_extension: str
    recording_type: str
    file_size: int
    download_url: str
    status: str
    kind: Literal["cloud", "phone"] = "cloud"
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: a task argument."""
        out = asdict(self)
        out["metadata"] = dict(self.metadata)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecordingFile:
        """The inverse of ``to_dict``; unknown keys are ignored."""
        names = cls.__dataclass_fields__
        values = {k: v for k, v in data.items() if k in names}
        values["file_size"] = int(values.get("file_size") or 0)
        values["metadata"] = dict(values.get("metadata") or {})
        return cls(**values)


def files_of(recording: Mapping[str, Any], *, connection: str, account: str) -> list[RecordingFile]:
    """The files of a cloud recording object, in Zoom's order."""
    found: list[RecordingFile] = []
    for item in recording.get("recording_files") or ():
        if not isinstance(item, Mapping) or not item.get("id") or not item.get("download_url"):
            continue  # Zoom lists a file without an id only while it is still being made
        found.append(
            RecordingFile(
                account=account,
                connection=connection,
                meeting_id=str(recording.get("id", "")),
                meeting_uuid=str(recording.get("uuid") or item.get("meeting_id") or ""),
                topic=str(recording.get("topic", "")),
                start_time=str(recording.get("start_time") or item.get("recording_start") or ""),
                file_id=str(item["id"]),
                file_type=str(item.get("file_type") or "").upper(),
                file_extension=str(item.get("file_extension") or "").lower(),
                recording_type=str(item.get("recording_type") or ""),
                file_size=_size(item.get("file_size")),
                download_url=str(item["download_url"]),
                status=str(item.get("status") or "completed"),
                kind="cloud",
                metadata=dict(item),
            )
        )
    return found


def phone_files_of(
    recording: Mapping[str, Any], *, connection: str, account: str
) -> list[RecordingFile]:
    """The one file of a phone call recording (its size is unknown until downloaded: 0)."""
    if not recording.get("id") or not recording.get("download_url"):
        return []
    when = str(recording.get("date_time") or recording.get("start_time") or "")
    return [
        RecordingFile(
            account=account,
            connection=connection,
            meeting_id=str(recording.get("call_id") or recording["id"]),
            meeting_uuid=str(recording.get("call_id") or recording["id"]),
            topic=str(recording.get("caller_name") or recording.get("callee_name") or ""),
            start_time=when,
            file_id=str(recording["id"]),
            file_type=str(recording.get("file_type") or "MP3").upper(),
            file_extension=str(recording.get("file_extension") or "mp3").lower(),
            recording_type=str(recording.get("recording_type") or "phone"),
            file_size=_size(recording.get("file_size")),
            download_url=str(recording["download_url"]),
            status=str(recording.get("status") or "completed"),
            kind="phone",
            metadata=dict(recording),
        )
    ]


@dataclass(frozen=True)
class ArchiveFilter:
    """Which files to archive: by ``file_type`` and ``recording_type`` (empty: all)."""

    file_types: frozenset[str] = frozenset()
    recording_types: frozenset[str] = frozenset()

    def accepts(self, f: RecordingFile) -> bool:
        """Completed, and of a wanted type; a file still ``processing`` comes in a later event."""
        if f.status.lower() != "completed":
            return False
        if self.file_types and f.file_type.upper() not in {t.upper() for t in self.file_types}:
            return False
        return not self.recording_types or f.recording_type in self.recording_types


def _size(value: Any) -> int:
    """Zoom's ``file_size`` in bytes; 0 (unknown: the response tells) if it is not one."""
    try:
        size = int(value or 0)
    except (TypeError, ValueError):
        return 0
    return max(size, 0)
