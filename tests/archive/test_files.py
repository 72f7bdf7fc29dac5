"""RecordingFile from Zoom's recording objects, and the filter of what to archive."""

from __future__ import annotations

from zoomq.archive import ArchiveFilter, RecordingFile, files_of, phone_files_of
from zoomq.sandbox import SandboxConfig, SandboxServer
from zoomq.settings import ArchiveSettings

RECORDING = {
    "uuid": "4444AAAiAAAAAiAiAiiAii==",
    "id": 81234567890,
    "topic": "Weekly",
    "start_time": "2025-06-03T10:00:00Z",
    "recording_files": [
        {
            "id": "f-1",
            "file_type": "MP4",
            "file_extension": "MP4",
            "file_size": 100,
            "download_url": "https://zoom.us/rec/download/f-1",
            "status": "completed",
            "recording_type": "shared_screen_with_speaker_view",
        },
        {
            "id": "f-2",
            "file_type": "TRANSCRIPT",
            "file_extension": "VTT",
            "file_size": 10,
            "download_url": "https://zoom.us/rec/download/f-2",
            "status": "processing",
            "recording_type": "audio_transcript",
        },
        {"file_type": "MP4", "status": "processing"},
    ],
}


def test_files_of_a_recording_object() -> None:
    """Each file with an id and URL; extension lower-case; Zoom's object kept as metadata."""
    found = files_of(RECORDING, connection="c", account="acct")
    assert [f.file_id for f in found] == ["f-1", "f-2"]
    first = found[0]
    assert (first.meeting_id, first.meeting_uuid, first.file_extension) == (
        "81234567890",
        "4444AAAiAAAAAiAiAiiAii==",
        "mp4",
    )
    assert first.metadata["file_size"] == 100
    assert RecordingFile.from_dict(first.to_dict()) == first


def test_the_filter_takes_completed_files_of_wanted_types() -> None:
    """Still processing: later. A type filter leaves the rest."""
    mp4, vtt = files_of(RECORDING, connection="c", account="acct")
    assert ArchiveFilter().accepts(mp4)
    assert not ArchiveFilter().accepts(vtt)
    assert not ArchiveFilter(file_types=frozenset({"M4A"})).accepts(mp4)
    assert ArchiveFilter(recording_types=frozenset({"shared_screen_with_speaker_view"})).accepts(
        mp4
    )


def test_the_sandbox_s_recordings_and_phone_recordings_convert() -> None:
    """Zoom-shaped objects from the sandbox give downloadable files."""
    with SandboxServer(SandboxConfig(rate_limits=False)) as server:
        state = server.state
        recording = state.add_recording(state.seeded.recorded_meeting_id, [5, 7])
        files = files_of(recording, connection="c", account="acct")
        assert [f.file_size for f in files] == [5, 7]
        assert all(f.download_url.startswith(server.url + "/rec/download/") for f in files)
        (phone,) = phone_files_of(state.store.phone_recordings[0], connection="c", account="a")
        assert phone.kind == "phone"
        assert phone.file_size == 0


def test_archive_settings_from_flat_variables() -> None:
    """Comma lists split, file types upper-cased."""
    settings = ArchiveSettings(file_types="mp4, m4a", download_hosts="127.0.0.1:9100")
    assert settings.file_types == ("MP4", "M4A")
    assert settings.download_hosts == ("127.0.0.1:9100",)
