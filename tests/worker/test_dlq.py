"""The dead-letter store against a real redis-server."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from zoomq.cli.worker import dlq_group
from zoomq.errors import NotFound
from zoomq.runtime.dlq import DeadLetterStore
from zoomq.runtime.message import TaskMessage
from zoomq.settings import Settings


def message(n: int, attempts: int = 3) -> TaskMessage:
    return TaskMessage(
        name="zoomq.actions.getMeeting",
        args=[{"meetingId": n}],
        kwargs={"connection": "default", "meta": {"correlation_id": f"c{n}"}},
        task_id=f"task-{n}",
        attempts=attempts,
    )


def clock_from(start: float) -> itertools.count[float]:
    return itertools.count(start, 10.0)


def test_an_entry_keeps_everything_needed_to_replay(redis_client: redis.Redis) -> None:
    """Task name, args, kwargs, connection, error, attempts and times are kept."""
    times = clock_from(1000.0)
    store = DeadLetterStore(redis_client, clock=lambda: next(times))
    error = NotFound("no meeting", status=404, code=3001).to_dict()
    entry = store.add(message(1), error, connection="default", attempts=1, first_at=990.0)
    found = store.get(entry.id)
    assert found == entry
    assert found.message == message(1)
    assert found.error["type"] == "NotFound"
    assert found.error["code"] == 3001
    assert (found.attempts, found.first_at, found.last_at) == (1, 990.0, 1000.0)
    data = found.to_dict()
    assert data["task"] == "zoomq.actions.getMeeting"
    assert data["connection"] == "default"


def test_entries_list_newest_first_and_remove_and_purge(redis_client: redis.Redis) -> None:
    """List is by last failure, newest first; remove and purge delete."""
    times = clock_from(1000.0)
    store = DeadLetterStore(redis_client, clock=lambda: next(times))
    for n in range(3):
        store.add(message(n), {"type": "ServerError"})
    assert [e.id for e in store.entries()] == ["task-2", "task-1", "task-0"]
    assert [e.id for e in store.entries(limit=1, offset=1)] == ["task-1"]
    assert store.remove("task-1")
    assert not store.remove("task-1")
    assert store.count() == 2
    assert store.purge() == 2
    assert store.entries() == []


def test_dying_again_keeps_the_first_time(redis_client: redis.Redis) -> None:
    """A task id that dies after a replay keeps its first failure time and counts deaths."""
    times = clock_from(1000.0)
    store = DeadLetterStore(redis_client, clock=lambda: next(times))
    store.add(message(1), {"type": "ServerError"})
    again = store.add(message(1), {"type": "ServerError"})
    assert (again.first_at, again.last_at, again.deaths) == (1000.0, 1010.0, 2)


def test_replay_sends_with_a_fresh_budget_then_removes(redis_client: redis.Redis) -> None:
    """Replay sends attempts=0 and deletes the entry; unknown ids send nothing."""
    store = DeadLetterStore(redis_client)
    store.add(message(1, attempts=5), {"type": "ServerError"})
    store.add(message(2, attempts=5), {"type": "ServerError"})
    sent: list[TaskMessage] = []
    entry = store.replay("task-1", sent.append)
    assert entry is not None
    assert sent == [message(1, attempts=0)]
    assert store.get("task-1") is None
    assert store.replay("task-1", sent.append) is None
    assert [e.id for e in store.replay_all(sent.append)] == ["task-2"]
    assert [m.task_id for m in sent] == ["task-1", "task-2"]
    assert store.count() == 0


def test_a_replay_that_dies_again_at_once_keeps_its_new_entry(redis_client: redis.Redis) -> None:
    """The task dead-letters again before replay removes the old entry: the new one stays."""
    store = DeadLetterStore(redis_client)
    store.add(message(1, attempts=5), {"type": "ServerError"})

    def dies_again(msg: TaskMessage) -> None:
        store.add(msg, {"type": "NotFound", "code": 1001})

    assert store.replay("task-1", dies_again) is not None
    entry = store.get("task-1")
    assert entry is not None
    assert entry.error["type"] == "NotFound"
    assert store.count() == 1


def test_a_failed_send_keeps_the_entry(redis_client: redis.Redis) -> None:
    """Sent before removed: a broker error leaves the entry for the next replay."""
    store = DeadLetterStore(redis_client)
    store.add(message(1), {"type": "ServerError"})

    def broken(_: TaskMessage) -> None:
        raise ConnectionError("broker away")

    with pytest.raises(ConnectionError):
        store.replay("task-1", broken)
    assert store.get("task-1") is not None


def test_dlq_views_redact_zoom_secrets_at_any_depth(
    redis_client: redis.Redis, redis_url: str
) -> None:
    """``dlq show`` and ``dlq list --json`` redact a passcode 12 levels deep and ?zak= URLs."""
    secret = "s3cr3t-" + "9" * 8
    deep: dict[str, Any] = {"passcode": secret, "topic": "Weekly"}
    for n in range(12):
        deep = {f"level{n}": [deep] if n % 2 else deep}
    store = DeadLetterStore(redis_client)
    store.add(
        TaskMessage(
            name="zoomq.events.handle",
            args=[
                {
                    "event": "meeting.created",
                    "payload": deep,
                    "start_url": f"https://us02web.zoom.us/s/85?zak={secret}",
                    "join_url": f"https://us02web.zoom.us/j/85?pwd={secret}",
                    "password_required": True,
                }
            ],
            kwargs={"headers": {"Authorization": f"Bearer {secret}", "X-Api-Key": secret}},
            task_id="task-deep",
        ),
        {"type": "ServerError", "message": f"GET https://h/p?download_token={secret}"},
    )
    settings = Settings(_env_file=None, redis_url=redis_url)
    runner = CliRunner()
    shown = runner.invoke(dlq_group, ["show", "task-deep"], obj=settings)
    listed = runner.invoke(dlq_group, ["list", "--json"], obj=settings)
    for result in (shown, listed):
        assert result.exit_code == 0, result.output
        assert secret not in result.output
        data = json.loads(result.output)
        args = data["args"][0]
        assert args["start_url"] == "https://us02web.zoom.us/s/85?zak=[redacted]"
        assert args["join_url"] == "https://us02web.zoom.us/j/85?pwd=[redacted]"
        assert args["password_required"] is True
        assert args["event"] == "meeting.created"
        inner = args["payload"]
        for n in reversed(range(12)):
            inner = inner[f"level{n}"][0] if n % 2 else inner[f"level{n}"]
        assert inner == {"passcode": "[redacted]", "topic": "Weekly"}
    raw = runner.invoke(dlq_group, ["show", "task-deep", "--raw"], obj=settings)
    assert secret in raw.output


def test_an_undecodable_entry_is_redacted_and_not_replayed(
    redis_client: redis.Redis, redis_url: str
) -> None:
    """A raw body's tokens are hidden in ``dlq show``; replaying it says why it cannot be."""
    secret = "t0ken-" + "7" * 10
    body = json.dumps({"payload": {"object": {"download_token": secret}}, "x": "y"})
    store = DeadLetterStore(redis_client)
    store.add_undecodable(
        body=body.encode(),
        content_type="application/json",
        content_encoding="utf-8",
        headers={"id": "raw-1", "task": "zoomq.events.handle"},
        properties={"delivery_tag": "tag-1"},
        error=ValueError("cannot decode"),
    )
    settings = Settings(_env_file=None, redis_url=redis_url)
    runner = CliRunner()
    shown = runner.invoke(dlq_group, ["show", "raw-1"], obj=settings)
    assert shown.exit_code == 0, shown.output
    assert secret not in shown.output
    replayed = runner.invoke(dlq_group, ["replay", "raw-1"], obj=settings)
    assert replayed.exit_code == 2
    assert "could not decode" in replayed.output
    assert store.get("raw-1") is not None
    missing = runner.invoke(dlq_group, ["replay", "nope"], obj=settings)
    assert missing.exit_code == 1
    assert "no dead letter 'nope'" in missing.output


def test_a_body_that_is_not_json_is_shown_as_its_size_and_digest(
    redis_client: redis.Redis, redis_url: str
) -> None:
    """A pickled body cannot be scrubbed as text: the redacted views show no byte of it."""
    import pickle

    secret = "LEAK-pickled-passcode"
    body = pickle.dumps(({"userId": "me", "password": secret},))
    DeadLetterStore(redis_client).add_undecodable(
        body=body,
        content_type="application/x-python-serialize",
        content_encoding="binary",
        headers={"id": "raw-pk", "task": "zoomq.actions.getUser"},
        properties={},
        error=ValueError("refused content"),
    )
    settings = Settings(_env_file=None, redis_url=redis_url)
    runner = CliRunner()
    for args in (["show", "raw-pk"], ["list", "--json"]):
        result = runner.invoke(dlq_group, args, obj=settings)
        assert result.exit_code == 0, result.output
        assert secret not in result.output
        assert "sha256" in result.output
    assert secret in runner.invoke(dlq_group, ["show", "raw-pk", "--raw"], obj=settings).output
