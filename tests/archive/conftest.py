"""Archive fixtures: a sandbox on loopback, its recordings as RecordingFiles, storage."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from zoomq.archive import LocalStorage, RecordingFile, download_hosts, files_of
from zoomq.archive.http11 import Http11
from zoomq.sandbox import SandboxConfig, SandboxServer

MIB = 1024 * 1024


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A sandbox on the real clock (CDN URLs are signed with it), rate limits off."""
    with SandboxServer(SandboxConfig(rate_limits=False)) as server:
        yield server


@pytest.fixture
def http() -> Http11:
    return Http11(timeout=30.0, connect_timeout=5.0)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "archive")


@pytest.fixture
def token(sandbox: SandboxServer) -> str:
    return sandbox.state.issue_download_token()


@pytest.fixture
def allowed(sandbox: SandboxServer) -> Callable[[str], bool]:
    """Zoom's hosts and the sandbox's own origin (not the rest of 127.0.0.1)."""
    return download_hosts([f"127.0.0.1:{sandbox.port}"])


@pytest.fixture
def recording_file(sandbox: SandboxServer) -> Callable[..., RecordingFile]:
    """A new recording of the recorded meeting with one file of ``size`` bytes."""

    def make(size: int = 3 * MIB) -> RecordingFile:
        state = sandbox.state
        recording = state.add_recording(state.seeded.recorded_meeting_id, [size])
        (found,) = files_of(recording, connection="default", account="acct")
        return found

    return make


# A real S3-compatible server (moto's, a subprocess) and a bucket per test.
from tests.archive.s3server import s3, s3_endpoint  # noqa: E402

__all__ = ["s3", "s3_endpoint"]
