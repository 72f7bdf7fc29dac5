"""The Celery app's at-least-once configuration and the worker's settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tasks.runtime import get_runtime
from worker.app import create_celery
from zoomq.actions import CATALOG
from zoomq.settings import QueueSettings, Settings


def test_celery_is_configured_for_at_least_once_work(redis_url: str) -> None:
    """Late acks, requeue on worker loss, prefetch 1, JSON only, time limit < visibility."""
    app = create_celery(Settings(_env_file=None, redis_url=redis_url))
    conf = app.conf
    assert conf.task_acks_late
    assert conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.broker_connection_retry_on_startup
    assert conf.worker_cancel_long_running_tasks_on_connection_loss
    assert conf.task_ignore_result
    visibility = conf.broker_transport_options["visibility_timeout"]
    assert conf.task_time_limit < visibility
    assert get_runtime(app).config.max_countdown <= visibility / 2
    assert conf.task_default_queue == "actions"
    assert {q.name for q in conf.task_queues} == {"events", "actions", "downloads", "bulk"}


def test_tasks_are_registered_and_routed(redis_url: str) -> None:
    """25 action tasks, the events task and the automation task, on their queues."""
    app = create_celery(Settings(_env_file=None, redis_url=redis_url))
    names = set(app.tasks)
    assert {f"zoomq.actions.{key}" for key in CATALOG} <= names
    assert {"zoomq.events.handle", "zoomq.automations.run"} <= names
    route = app.amqp.router.route
    assert route({}, "zoomq.events.handle")["queue"].name == "events"
    assert route({}, "zoomq.actions.getUser")["queue"].name == "actions"
    assert route({}, "zoomq.automations.run")["queue"].name == "actions"


def test_worker_settings_reach_the_queue_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """ZOOMQ_* variables override the queue settings' defaults; unset ones keep them."""
    monkeypatch.setenv("ZOOMQ_RULES_FILE", str(tmp_path / "rules.toml"))
    monkeypatch.setenv("ZOOMQ_AUTOMATION_MODULES", "a.b, c")
    monkeypatch.setenv("ZOOMQ_MAX_RETRIES", "2")
    monkeypatch.setenv("ZOOMQ_RETRY_BACKOFF_BASE", "0.1")
    config = Settings(_env_file=None).queue
    assert config.rules_file == tmp_path / "rules.toml"
    assert config.automation_modules == ("a.b", "c")
    assert config.max_retries == 2
    assert config.retry_backoff_base == 0.1
    assert config.visibility_timeout == QueueSettings().visibility_timeout
    assert config.max_countdown == config.visibility_timeout / 2


def test_time_limit_must_stay_below_the_visibility_timeout() -> None:
    """A task that may outlive the visibility timeout would be delivered twice."""
    with pytest.raises(ValidationError, match=r"ZOOMQ_TASK_TIME_LIMIT .* ZOOMQ_VISIBILITY_TIMEOUT"):
        QueueSettings(visibility_timeout=600, task_time_limit=600)
