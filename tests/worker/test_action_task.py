"""What an action task returns, run against the sandbox with a real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery import Celery

from tasks.actions import run_action_task
from tasks.runtime import get_runtime
from worker.app import create_celery
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import Settings


@pytest.fixture
def app(settings: Settings) -> Iterator[Celery]:
    app = create_celery(settings)
    yield app
    get_runtime(app).close()
    app.close()


def test_zooms_status_field_does_not_overwrite_the_tasks_status(
    sandbox: SandboxServer, app: Celery
) -> None:
    """A meeting's ``status: waiting`` sits under ``zoom``; the task's status stays done."""
    meeting_id = sandbox.state.seeded.meeting_id
    task = app.tasks["zoomq.actions.getMeeting"]
    task.push_request(id="t-1", retries=0, called_directly=False)
    try:
        done = run_action_task(task, "getMeeting", {"meetingId": meeting_id}, None, None)
    finally:
        task.pop_request()
    assert done["status"] == "done"
    assert done["action"] == "getMeeting"
    assert done["replayed"] is False
    assert done["zoom"]["status"] == "waiting"
    assert done["zoom"]["id"] == meeting_id
