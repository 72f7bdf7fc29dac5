"""`zoomq recordings download|sync|status` as a subprocess against a running sandbox."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.content import expected_bytes
from zoomq.sandbox.server import SandboxServer

SIZES = [300_000, 40_000, 1_000]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=21, rate_limits=False)) as server:
        yield server


def env(sandbox: SandboxServer, redis_url: str, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM", "REDIS"))}
    return {
        **base,
        "PYTHONPATH": str(REPO),
        "REDIS_URL": redis_url,
        "ZOOM_API_BASE_URL": sandbox.api_base_url,
        "ZOOM_OAUTH_TOKEN_URL": sandbox.token_url,
        "ZOOM_ACCOUNT_ID": "sandbox-account",
        "ZOOM_CLIENT_ID": "sandbox-client",
        "ZOOM_CLIENT_SECRET": "sandbox-secret",
        "ZOOM_API_HOSTS": '["127.0.0.1"]',
        "ZOOMQ_ARCHIVE_DOWNLOAD_HOSTS": "127.0.0.1",
        "ZOOMQ_LOG_FORMAT": "json",
        **extra,
    }


def zoomq(
    sandbox: SandboxServer, redis_url: str, *args: str, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zoomq", "recordings", *args],
        env=env(sandbox, redis_url, **extra),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def lines(stdout: str) -> list[dict[str, Any]]:
    """Every stdout line, each of which must be one JSON object."""
    return [json.loads(line) for line in stdout.splitlines()]


def record(sandbox: SandboxServer, sizes: list[int] = SIZES) -> dict[str, Any]:
    state = sandbox.state
    return state.complete_recordings(state.seeded.owner_email, 1, sizes)[0]


def test_download_one_meeting(sandbox: SandboxServer, redis_url: str, tmp_path: Path) -> None:
    """Every file lands byte-identical; stdout is only JSON lines, one per file; no progress
    bar when stderr is not a terminal; a second run skips them all."""
    recording = record(sandbox)
    dest = tmp_path / "archive"
    done = zoomq(sandbox, redis_url, "download", "--meeting", str(recording["id"]),
                 "--dest", str(dest))  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = lines(done.stdout)
    assert [r["file_id"] for r in results] == [f["id"] for f in recording["recording_files"]]
    for item, result in zip(recording["recording_files"], results, strict=True):
        path = dest / result["key"]
        data = path.read_bytes()
        assert data == expected_bytes(item["id"], 0, item["file_size"])
        assert result["sha256"] == hashlib.sha256(data).hexdigest()
        assert (result["size"], result["skipped"]) == (item["file_size"], False)
    assert "━" not in done.stderr
    assert "overall" not in done.stderr
    again = zoomq(sandbox, redis_url, "download", "--meeting", recording["uuid"],
                  "--dest", str(dest))  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert [r["skipped"] for r in lines(again.stdout)] == [True] * len(SIZES)
    for item in recording["recording_files"]:
        assert sandbox.state.range_log[item["id"]] == [0]  # downloaded once

    status = zoomq(sandbox, redis_url, "status", "--dest", str(dest))
    assert status.returncode == 0, status.stderr
    meetings = lines(status.stdout)
    assert [m["meeting_uuid"] for m in meetings] == [recording["uuid"]]
    one = zoomq(sandbox, redis_url, "status", "--meeting", str(recording["id"]),
                "--dest", str(dest))  # fmt: skip
    assert lines(one.stdout) == meetings


def test_progress_bars_on_a_terminal(
    sandbox: SandboxServer, redis_url: str, tmp_path: Path
) -> None:
    """With stderr on a terminal, the per-file and overall bars are drawn there."""
    recording = record(sandbox, [2_000_000])
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "zoomq", "recordings", "download", "--meeting",
             str(recording["id"]), "--dest", str(tmp_path / "a")],
            env=env(sandbox, redis_url, COLUMNS="120"), cwd=REPO,
            stdout=subprocess.PIPE, stderr=secondary, text=True,
        )  # fmt: skip
        os.close(secondary)
        stdout, _ = proc.communicate(timeout=120)
        drawn = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(primary)
    assert proc.returncode == 0
    assert len(lines(stdout)) == 1
    text = drawn.decode(errors="replace")
    assert "overall" in text
    assert "━" in text


def test_an_unknown_meeting_exits_1_naming_it(
    sandbox: SandboxServer, redis_url: str, tmp_path: Path
) -> None:
    """Zoom has no recording of it: exit 1, the message names the meeting, stdout empty."""
    done = zoomq(sandbox, redis_url, "download", "--meeting", "99999999999",
                 "--dest", str(tmp_path))  # fmt: skip
    assert done.returncode == 1
    assert "meeting 99999999999" in done.stderr
    assert done.stdout == ""


def test_a_bad_dest_exits_2_naming_it(
    sandbox: SandboxServer, redis_url: str, tmp_path: Path
) -> None:
    """A --dest that is a file: exit 2 before anything is downloaded, naming the path."""
    recording = record(sandbox)
    not_a_dir = tmp_path / "file.txt"
    not_a_dir.write_text("x")
    done = zoomq(sandbox, redis_url, "download", "--meeting", str(recording["id"]),
                 "--dest", str(not_a_dir))  # fmt: skip
    assert done.returncode == 2
    assert f"--dest {not_a_dir}" in done.stderr
    assert recording["recording_files"][0]["id"] not in sandbox.state.range_log


def test_sync_archives_what_is_missing(
    sandbox: SandboxServer, redis_url: str, tmp_path: Path
) -> None:
    """`sync --from today` archives today's new recordings in-process and reports counts; a
    second sync finds everything archived."""
    made = [record(sandbox, [5_000, 700]) for _ in range(2)]
    today = datetime.fromtimestamp(sandbox.state.clock.time(), UTC).date().isoformat()
    dest = str(tmp_path / "archive")
    done = zoomq(sandbox, redis_url, "sync", "--connection", "default", "--from", today,
                 "--dest", dest)  # fmt: skip
    assert done.returncode == 0, done.stderr
    [report] = lines(done.stdout)
    assert report["failed"] == 0
    assert report["archived"] == report["files"] - report["filtered"] >= 4
    for recording in made:
        for item in recording["recording_files"]:
            assert sandbox.state.range_log[item["id"]] == [0]
    again = zoomq(sandbox, redis_url, "sync", "--connection", "default", "--from", today,
                  "--dest", dest)  # fmt: skip
    [second] = lines(again.stdout)
    assert (second["archived"], second["already_archived"]) == (0, report["archived"])
