"""``zoomq dlq`` commands against a real redis-server (the broker too)."""

from __future__ import annotations

import base64
import json

import pytest
import redis
from click.testing import CliRunner

from zoomq.cli.worker import dlq_group, worker_command
from zoomq.errors import ServerError
from zoomq.runtime.dlq import DeadLetterStore
from zoomq.runtime.message import TaskMessage
from zoomq.settings import Settings


def dead(store: DeadLetterStore, n: int) -> None:
    store.add(
        TaskMessage(
            name="zoomq.actions.addMeetingRegistrant",
            args=[{"meetingId": n, "email": "a@b.c", "firstName": "A", "secretToken": "tok-123"}],
            kwargs={"connection": "default", "meta": {"correlation_id": f"c{n}"}},
            task_id=f"task-{n}",
            attempts=4,
        ),
        ServerError("Internal Server Error.", status=500, code=500).to_dict(),
        connection="default",
        attempts=5,
    )


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return Settings(_env_file=None, redis_url=redis_url)


def test_list_and_show(settings: Settings, redis_client: redis.Redis) -> None:
    """list prints one line per entry; show prints the entry as JSON."""
    store = DeadLetterStore(redis_client)
    dead(store, 1)
    runner = CliRunner()
    listed = runner.invoke(dlq_group, ["list"], obj=settings)
    assert listed.exit_code == 0, listed.output
    assert "task-1  zoomq.actions.addMeetingRegistrant  conn=default  attempts=5" in listed.output
    assert "ServerError 500" in listed.output
    shown = runner.invoke(dlq_group, ["show", "task-1"], obj=settings)
    data = json.loads(shown.output)
    assert data["error"]["status"] == 500
    assert data["args"][0]["secretToken"] == "[redacted]"
    raw = runner.invoke(dlq_group, ["show", "task-1", "--raw"], obj=settings)
    assert json.loads(raw.output)["args"][0]["secretToken"] == "tok-123"
    missing = runner.invoke(dlq_group, ["show", "nope"], obj=settings)
    assert missing.exit_code == 1


def test_replay_enqueues_with_a_fresh_budget(settings: Settings, redis_client: redis.Redis) -> None:
    """replay ID puts the task on its queue with retries=0 and the same id, then removes it."""
    store = DeadLetterStore(redis_client)
    dead(store, 1)
    dead(store, 2)
    result = CliRunner().invoke(dlq_group, ["replay", "task-1"], obj=settings)
    assert result.exit_code == 0, result.output
    assert redis_client.llen("actions") == 1
    raw = json.loads(redis_client.lindex("actions", 0))  # type: ignore[arg-type]
    assert raw["headers"]["id"] == "task-1"
    assert raw["headers"]["retries"] == 0
    args, kwargs, _ = json.loads(base64.b64decode(raw["body"]))
    assert args == [{"meetingId": 1, "email": "a@b.c", "firstName": "A", "secretToken": "tok-123"}]
    assert kwargs["meta"]["correlation_id"] == "c1"
    assert [e.id for e in store.entries()] == ["task-2"]
    everything = CliRunner().invoke(dlq_group, ["replay", "--all"], obj=settings)
    assert "1 replayed" in everything.output
    assert store.count() == 0


def test_replay_needs_an_id_or_all(settings: Settings) -> None:
    """Neither or both is a usage error."""
    assert CliRunner().invoke(dlq_group, ["replay"], obj=settings).exit_code == 2


def test_purge(settings: Settings, redis_client: redis.Redis) -> None:
    """purge --yes empties the store."""
    store = DeadLetterStore(redis_client)
    dead(store, 1)
    result = CliRunner().invoke(dlq_group, ["purge", "--yes"], obj=settings)
    assert "1 purged" in result.output
    assert store.count() == 0


def test_worker_refuses_a_bad_rules_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> None:
    """A rules file naming an unknown action stops `zoomq worker` before it starts."""
    rules = tmp_path_factory.mktemp("rules") / "rules.toml"
    rules.write_text('[[rule]]\nname = "x"\nevent = "a"\naction = "sendFax"\n')
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("ZOOMQ_RULES_FILE", str(rules))
    result = CliRunner().invoke(worker_command, [])
    assert result.exit_code == 2
    assert "rule 'x' (#1): action: 'sendFax' is not an action of the catalog" in result.output


def test_zoomq_worker_prints_nothing_on_stdout(redis_url: str) -> None:
    """Celery's banner would land on stdout; `zoomq worker` keeps stdout for results only."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    env = {**os.environ, "REDIS_URL": redis_url, "ZOOMQ_LOG_FORMAT": "json"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoomq", "worker", "--pool", "solo", "-Q", "bulk"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        client = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + 30
        # The worker is consuming once its Celery consumer has registered in Redis.
        while time.monotonic() < deadline and not client.keys("_kombu.binding.bulk"):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.1)
        assert client.keys("_kombu.binding.bulk")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert out == ""
    assert "zoomq worker: pool=solo" in err
