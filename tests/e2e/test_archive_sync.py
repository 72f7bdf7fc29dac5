"""The outage proof: recordings completed while nobody listened are archived by the scheduled
sync of a real worker, every file once.

No receiver runs and the sandbox's webhook URL points at a port nobody listens on, so every
``recording.completed`` of the 20 recordings is lost, as it would be during a day-long
outage (past Zoom's ~85-minute redelivery window). A Celery worker process then starts;
its ``SyncScheduler`` takes the round at once and sends ``zoomq.downloads.sync``, which
enqueues one ``zoomq.downloads.file`` per file storage lacks.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import REPO, start_worker, stop_worker, wait_for
from worker.app import create_celery
from zoomq.archive.files import files_of
from zoomq.archive.local import LocalStorage
from zoomq.redis_server import RedisServer, free_port
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.content import expected_bytes
from zoomq.sandbox.server import SandboxServer
from zoomq.sandbox.webhooks.emitter import make_sandbox_emitter
from zoomq.settings import Settings

RECORDINGS = 20
SIZES = [96_000, 12_000, 3_000]


def json_lines(path: Path, event: str) -> list[dict[str, Any]]:
    found = []
    for raw in path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if line.get("event") == event:
                found.append(line)
    return found


@pytest.fixture
def outage(tmp_path: Path) -> Iterator[tuple[SandboxServer, RedisServer, Path]]:
    """A sandbox whose events go to a closed port, and a redis-server; no receiver."""
    http = httpx.Client(timeout=0.5)
    nowhere = f"http://127.0.0.1:{free_port()}/webhooks/zoom"
    emitter = make_sandbox_emitter(nowhere, "outage-secret", http)
    config = SandboxConfig(seed=31, on_event=emitter)
    try:
        with RedisServer(tmp_path / "redis") as redis_server, SandboxServer(config) as sandbox:
            yield sandbox, redis_server, tmp_path
    finally:
        http.close()


def test_the_scheduled_sync_archives_what_an_outage_missed(
    outage: tuple[SandboxServer, RedisServer, Path],
) -> None:
    """20 recordings completed during the outage → all archived byte-identical by the first
    scheduled sync, each file downloaded once; a second sync queues and downloads nothing."""
    sandbox, redis_server, tmp_path = outage
    state = sandbox.state
    made = state.complete_recordings(state.seeded.owner_email, RECORDINGS, SIZES)
    assert [n for n, _ in state.events].count("recording.completed") == RECORDINGS
    dest = tmp_path / "archive"
    connections = tmp_path / "connections.json"
    connections.write_text(
        json.dumps(
            [
                {
                    "name": "default",
                    "account_id": "sandbox-account",
                    "client_id": "sandbox-client",
                    "client_secret": "sandbox-secret",
                }
            ]
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM", "REDIS"))}
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "REDIS_URL": redis_server.url,
            "ZOOM_API_BASE_URL": sandbox.api_base_url,
            "ZOOM_OAUTH_TOKEN_URL": sandbox.token_url,
            "ZOOM_API_HOSTS": '["127.0.0.1"]',
            "ZOOMQ_CONNECTIONS_FILE": str(connections),
            "ZOOMQ_LOG_FORMAT": "json",
            "ZOOMQ_ARCHIVE_DEST": str(dest),
            "ZOOMQ_ARCHIVE_DOWNLOAD_HOSTS": "127.0.0.1",
            "ZOOMQ_ARCHIVE_SYNC_INTERVAL": "3600",
            "ZOOMQ_ARCHIVE_SYNC_DAYS": "2",
            "ZOOMQ_RETRY_BACKOFF_BASE": "0.2",
            "ZOOMQ_RETRY_BACKOFF_CAP": "1.0",
            "ZOOMQ_SCHEDULER_INTERVAL": "0.2",
        }
    )
    log_path = tmp_path / "worker.log"
    argv = [
        sys.executable, "-m", "celery", "-A", "worker.app", "worker",
        "--pool", "threads", "-c", "4", "-Q", "downloads,actions,events",
        "--loglevel", "INFO", "-n", "archive@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    process = start_worker(argv, env, log_path)
    try:
        storage = LocalStorage(dest)
        [first] = wait_for(
            lambda: json_lines(log_path, "archive.sync.done"), 60, "the first sync's report"
        )
        # Every recording Zoom lists in the window: the 20, and any the account had already.
        with state.lock:
            listed = [
                r
                for r in state.store.recordings.values()
                if first["start"] <= r["start_time"][:10] <= first["end"]
            ]
        assert {r["uuid"] for r in made} <= {r["uuid"] for r in listed}
        files = [
            f
            for recording in listed
            for f in files_of(recording, connection="default", account="sandbox-account")
        ]
        assert first["queued"] == len(files) >= RECORDINGS * len(SIZES)

        def all_stored() -> bool:
            return all(storage.stored(storage.key_for(f)) is not None for f in files)

        wait_for(all_stored, timeout=90, what="every file of the window in storage")
        for f in files:
            path = dest / storage.key_for(f)
            assert path.read_bytes() == expected_bytes(f.file_id, 0, f.file_size)
        ranges = {f.file_id: list(state.range_log.get(f.file_id, [])) for f in files}
        assert ranges == {f.file_id: [0] for f in files}  # each downloaded once, in one go
        manifests = {storage.manifest_key_for(f) for f in files}
        assert len(manifests) == len(listed)
        assert all(storage.read_manifest(key) for key in manifests)

        # The same sync again, sent by name: everything is there, nothing is queued.
        app = create_celery(Settings(_env_file=None, redis_url=redis_server.url))
        window = [first["start"], first["end"]]
        app.send_task("zoomq.downloads.sync", args=["default", *window], task_id="sync-again")
        reports = wait_for(
            lambda: (found := json_lines(log_path, "archive.sync.done"))[1:] and found,
            30,
            "the second sync's report",
        )
        second = reports[1]
        assert (second["queued"], second["already_archived"]) == (0, len(files))
        assert {f.file_id: list(state.range_log[f.file_id]) for f in files} == ranges
    finally:
        stop_worker(process)
