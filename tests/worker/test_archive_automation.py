"""The built-in archive automation: on by default, one download task per accepted file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery

from tasks.runtime import get_runtime
from worker.app import create_celery
from zoomq.automations import AutomationContext
from zoomq.runtime.names import DOWNLOAD_FILE_TASK, DOWNLOADS_QUEUE
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import Settings

ARCHIVE_NAMES = {
    "zoomq.archive:recording.completed",
    "zoomq.archive:recording.transcript_completed",
    "zoomq.archive:phone.recording_completed",
}


def archive_settings(settings: Settings, tmp_path: Path, **archive: Any) -> Settings:
    section = settings.archive.model_copy(update={"dest": str(tmp_path / "archive"), **archive})
    return settings.model_copy(update={"archive": section})


@pytest.fixture
def app(settings: Settings, tmp_path: Path) -> Iterator[Celery]:
    celery = create_celery(archive_settings(settings, tmp_path))
    yield celery
    get_runtime(celery).close()


def queued(redis_client: redis.Redis) -> list[dict[str, Any]]:
    """The download messages waiting on the ``downloads`` queue (kombu's Redis list)."""
    raw = redis_client.lrange(DOWNLOADS_QUEUE, 0, -1)[::-1]  # LPUSHed: oldest last
    return [json.loads(item)["headers"] for item in raw]


def context(app: Celery, name: str) -> AutomationContext:
    runtime = get_runtime(app)
    return AutomationContext(
        automation=name,
        run_key="run-1",
        meta={"connection": "default", "correlation_id": "corr-1"},
        clients=runtime.client,
        store=None,
        owner="test",
        connection="default",
    )


def test_on_by_default_for_the_recording_events(app: Celery) -> None:
    """Without configuration, the worker's automations include the archive's three."""
    assert Settings(_env_file=None).archive.enabled
    names = {a.name for a in get_runtime(app).automations}
    assert names >= ARCHIVE_NAMES


def test_off_when_disabled(settings: Settings, tmp_path: Path) -> None:
    """ZOOMQ_ARCHIVE_ENABLED=false: no archive automation at all."""
    celery = create_celery(archive_settings(settings, tmp_path, enabled=False))
    try:
        names = {a.name for a in get_runtime(celery).automations}
    finally:
        get_runtime(celery).close()
    assert not names & ARCHIVE_NAMES


def test_one_download_task_per_accepted_file(
    app: Celery, sandbox: SandboxServer, redis_client: redis.Redis
) -> None:
    """recording.completed: a ``dl-<file id>`` task on the downloads queue per completed
    file, with the event's token; a file still processing waits for its own event."""
    recording = sandbox.state.add_recording(sandbox.state.seeded.meeting_id, [3000, 2000, 1000])
    recording["recording_files"][2]["status"] = "processing"
    event = {
        "event": "recording.completed",
        "event_ts": 1,
        "download_token": "tok-1",
        "payload": {"account_id": "sandbox-account", "object": recording},
    }
    auto = get_runtime(app).automations.get("zoomq.archive:recording.completed")
    result = auto.handler(event, context(app, auto.name))
    wanted = [x["id"] for x in recording["recording_files"][:2]]
    assert result == {"enqueued": wanted}
    headers = queued(redis_client)
    assert [h["id"] for h in headers] == [f"dl-{i}" for i in wanted]
    assert {h["task"] for h in headers} == {DOWNLOAD_FILE_TASK}
    assert all("tok-1" not in h["kwargsrepr"] for h in headers)  # redacted in the repr


def test_phone_recordings_fan_out_too(
    app: Celery, sandbox: SandboxServer, redis_client: redis.Redis
) -> None:
    """phone.recording_completed: one task per call recording of the event."""
    calls = sandbox.state.store.phone_recordings[:2]
    event = {
        "event": "phone.recording_completed",
        "event_ts": 1,
        "payload": {"account_id": "sandbox-account", "object": {"recordings": calls}},
    }
    auto = get_runtime(app).automations.get("zoomq.archive:phone.recording_completed")
    auto.handler(event, context(app, auto.name))
    assert [h["id"] for h in queued(redis_client)] == [f"dl-{c['id']}" for c in calls]
