"""What can be downloaded: cloud recording files and call recordings, Zoom-shaped."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zoomq.sandbox.ids import IdFactory
from zoomq.sandbox.times import iso

__all__ = ["FileInfo", "FileKind", "file_kinds", "phone_recording", "recording_file"]


@dataclass(frozen=True, slots=True)
class FileKind:
    """What one recording file is: Zoom's file_type, extension, recording_type, MIME type."""

    file_type: str
    extension: str
    recording_type: str
    content_type: str


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A downloadable file: its size and MIME type (its bytes are computed, see content)."""

    id: str
    size: int
    content_type: str
    filename: str


_KINDS = (
    FileKind("MP4", "MP4", "shared_screen_with_speaker_view", "video/mp4"),
    FileKind("M4A", "M4A", "audio_only", "audio/mp4"),
    FileKind("TRANSCRIPT", "VTT", "audio_transcript", "text/vtt"),
    FileKind("CHAT", "TXT", "chat_file", "text/plain"),
    FileKind("MP4", "MP4", "gallery_view", "video/mp4"),
    FileKind("CC", "VTT", "closed_caption", "text/vtt"),
)


def file_kinds(count: int) -> list[FileKind]:
    """The kinds of a recording's files, in Zoom's usual order (MP4, M4A, transcript...)."""
    return [_KINDS[i % len(_KINDS)] for i in range(count)]


def recording_file(
    *,
    base_url: str,
    file_id: str,
    meeting_uuid: str,
    kind: FileKind,
    size: int,
    start: float,
    end: float,
) -> dict[str, Any]:
    return {
        "id": file_id,
        "meeting_id": meeting_uuid,
        "recording_start": iso(start),
        "recording_end": iso(end),
        "file_type": kind.file_type,
        "file_extension": kind.extension,
        "file_size": size,
        "play_url": f"{base_url}/rec/play/{file_id}",
        "download_url": f"{base_url}/rec/download/{file_id}",
        "status": "completed",
        "recording_type": kind.recording_type,
    }


def phone_recording(
    ids: IdFactory,
    *,
    base_url: str,
    owner: Mapping[str, Any],
    extension: int,
    peer_name: str,
    peer_number: str,
    inbound: bool,
    start: float,
    seconds: int,
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A call recording: as ``/phone/recordings`` lists it, as a user's list shows it, its id."""
    rec_id = ids.hex32()
    own_name = owner["display_name"]
    own_number = f"+1650555{extension:04d}"[-12:]
    caller = (peer_name, peer_number, 2) if inbound else (own_name, own_number, 1)
    callee = (own_name, own_number, 1) if inbound else (peer_name, peer_number, 2)
    common: dict[str, Any] = {
        "id": rec_id,
        "call_id": ids.digits(19),
        "call_log_id": ids.file_id(),
        "caller_name": caller[0],
        "caller_number": caller[1],
        "caller_number_type": caller[2],
        "callee_name": callee[0],
        "callee_number": callee[1],
        "callee_number_type": callee[2],
        "date_time": iso(start),
        "direction": "inbound" if inbound else "outbound",
        "duration": seconds,
        "download_url": f"{base_url}/v2/phone/recording/download/{rec_id}",
    }
    account_item = {
        **common,
        "end_time": iso(start + seconds),
        "recording_type": "Automatic",
        "owner": {
            "type": "user",
            "id": owner["id"],
            "name": own_name,
            "extension_number": extension,
        },
        "site": {"id": "sandbox-site", "name": "Main Site"},
        "auto_delete_enable": False,
    }
    user_item = {**common, "call_history_id": ids.hex32()}
    return account_item, user_item, rec_id
