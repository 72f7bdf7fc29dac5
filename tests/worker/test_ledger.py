"""The task ledger: a record comes back only when its message is provably lost."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
from celery import Celery

from zoomq.runtime import build_task_message
from zoomq.runtime.ledger import BrokerKeys, Ledger
from zoomq.runtime.message import TaskMessage

TASK = "zoomq.actions.getUser"


@pytest.fixture
def app(redis_url: str) -> Iterator[Celery]:
    from worker.app import create_celery
    from zoomq.settings import Settings

    celery = create_celery(Settings(_env_file=None, redis_url=redis_url))
    yield celery
    celery.close()


@pytest.fixture
def broker(app: Celery) -> BrokerKeys:
    from worker.signals import broker_keys

    return broker_keys(app)


def _send(app: Celery, i: int) -> None:
    app.send_task(TASK, args=[{"userId": f"u{i}"}], task_id=f"t-{i}")


def _ledger(client: redis.Redis, now: list[float]) -> Ledger:
    return Ledger(client, clock=lambda: now[0])


def test_broker_keys_are_every_priority_list_of_every_queue(broker: BrokerKeys) -> None:
    """kombu polls four lists per queue (priority steps 0, 3, 6, 9): all are looked in."""
    assert "actions" in broker.lists
    assert "actions\x06\x169" in broker.lists
    assert len(broker.lists) == 16
    assert broker.unacked == "unacked"


def test_a_waiting_backlog_is_never_resent(
    app: Celery, broker: BrokerKeys, redis_client: redis.Redis
) -> None:
    """Messages still in their queue past the timeout stay put, however many sweeps pass."""
    for i in range(50):
        _send(app, i)
    now = [redis_client.time()[0] + 10_000.0]
    ledger = _ledger(redis_client, now)
    for _ in range(5):
        result = ledger.sweep(30, broker)
        assert result.resend == []
        now[0] += 31
    assert result.found == 50
    assert redis_client.llen("actions") == 50
    assert ledger.count() == 50
    assert ledger.suspects() == 0


def test_a_message_in_kombus_unacked_hash_is_left_to_kombu(
    app: Celery, broker: BrokerKeys, redis_client: redis.Redis
) -> None:
    """Popped and recorded by kombu (a reserved or ETA task): found there, not resent."""
    _send(app, 1)
    raw = redis_client.rpop("actions")
    assert raw is not None
    # What kombu's QoS.append writes: [message, exchange, routing_key] under the tag.
    redis_client.hset("unacked", "tag-1", json.dumps([json.loads(raw), "actions", "actions"]))
    now = [redis_client.time()[0] + 10_000.0]
    ledger = _ledger(redis_client, now)
    for _ in range(3):
        assert ledger.sweep(30, broker).resend == []
        now[0] += 31
    assert ledger.count() == 1


def test_a_message_lost_between_pop_and_record_is_resent_once(
    app: Celery, broker: BrokerKeys, redis_client: redis.Redis
) -> None:
    """In no list, not unacked, not started: marked by one sweep, claimed by the next."""
    _send(app, 1)
    _send(app, 2)
    assert redis_client.rpop("actions") is not None  # t-1, as a worker killed mid-fetch
    now = [redis_client.time()[0] + 10_000.0]
    ledger = _ledger(redis_client, now)
    first = ledger.sweep(30, broker, settle=1.0)
    assert (first.found, first.missing, first.resend) == (1, 1, [])
    assert ledger.suspects() == 1
    now[0] += 0.5
    assert ledger.sweep(30, broker, settle=1.0).resend == []  # too soon after the mark
    now[0] += 1.0
    second = ledger.sweep(30, broker, settle=1.0)
    assert second.resend == [TaskMessage(TASK, [{"userId": "u1"}], {}, "t-1")]
    now[0] += 1.0
    assert ledger.sweep(30, broker, settle=1.0).checked == 0  # its clock started again
    assert ledger.suspects() == 0


def test_a_task_started_after_the_mark_is_not_resent(
    app: Celery, broker: BrokerKeys, redis_client: redis.Redis
) -> None:
    """A suspect that starts before the next sweep is dropped, not sent again."""
    from worker.signals import _started

    _send(app, 1)
    redis_client.rpop("actions")
    now = [redis_client.time()[0] + 10_000.0]
    ledger = _ledger(redis_client, now)
    assert ledger.sweep(30, broker).missing == 1
    _started(task_id="t-1", task=app.tasks[TASK])
    now[0] += 5
    assert ledger.sweep(30, broker).resend == []
    assert ledger.count() == 0
    assert ledger.suspects() == 0


def test_two_schedulers_claim_a_lost_message_once(
    app: Celery, broker: BrokerKeys, redis_client: redis.Redis, redis_url: str
) -> None:
    """Both find it missing a second time; only one of them is handed it."""
    _send(app, 1)
    redis_client.rpop("actions")
    now = [redis_client.time()[0] + 10_000.0]
    other = redis.Redis.from_url(redis_url)
    one, two = _ledger(redis_client, now), _ledger(other, now)
    assert one.sweep(30, broker).missing == 1
    now[0] += 5
    due_before = now[0] - 30
    ids = [one.overdue(due_before), two.overdue(due_before)]
    assert ids == [["t-1"], ["t-1"]]
    seen = [one.present({"t-1"}, broker), two.present({"t-1"}, broker)]
    assert seen == [set(), set()]
    claims = [
        one.settle(ids[0], seen[0], now[0] - 1, due_before),
        two.settle(ids[1], seen[1], now[0] - 1, due_before),
    ]
    assert sorted(len(c) for c in claims) == [0, 1]
    assert one.suspects() == 0  # the loser left the freshly claimed record alone
    other.close()


def test_a_receiver_written_event_message_is_resent_as_a_task_message(
    broker: BrokerKeys, redis_client: redis.Redis
) -> None:
    """A ledger record in Celery's wire form comes back as the TaskMessage it encodes."""
    from zoomq.runtime import ENQUEUE_SCRIPT
    from zoomq.runtime.ledger import DUE_KEY, MESSAGES_KEY, SUSPECT_KEY

    event = {"event": "meeting.started", "payload": {"object": {"id": 1}}}
    meta = {"meta": {"connection": "default"}}
    message = build_task_message("zoomq.events.handle", [event], meta, "evt-1", "events")
    now = float(redis_client.time()[0])
    keys = [DUE_KEY, MESSAGES_KEY, SUSPECT_KEY, "", "events"]
    assert redis_client.eval(ENQUEUE_SCRIPT, 5, *keys, now, 0, message, "evt-1") == [1]
    redis_client.rpop("events")  # lost in a worker between pop and record
    clock = [now + 10_000.0]
    ledger = _ledger(redis_client, clock)
    assert ledger.sweep(30, broker).missing == 1
    clock[0] += 5
    assert ledger.sweep(30, broker).resend == [
        TaskMessage("zoomq.events.handle", [event], meta, "evt-1", queue="events")
    ]


def test_a_started_task_leaves_the_ledger_and_its_retry_is_recorded_again(
    app: Celery, redis_client: redis.Redis
) -> None:
    """task_prerun drops the record; a retry's new message (same id) is recorded as sent."""
    from worker.signals import _started

    app.send_task(TASK, args=[{"userId": "me"}], task_id="t-9", countdown=5)
    ledger = Ledger(redis_client)
    assert ledger.count() == 1
    _started(task_id="t-9", task=app.tasks[TASK])
    assert ledger.count() == 0
    app.send_task(TASK, args=[{"userId": "me"}], task_id="t-9", countdown=5, retries=1)
    [entry] = ledger.entries(["t-9"])
    assert entry is not None
    assert entry.attempts == 1


def test_a_revoked_or_unknown_task_leaves_the_ledger(
    app: Celery, redis_client: redis.Redis
) -> None:
    """Acknowledged without starting: the record goes, or it would be re-sent for ever."""
    from types import SimpleNamespace

    from worker.signals import _discarded

    _send(app, 1)
    _send(app, 2)
    ledger = Ledger(redis_client)
    _discarded(sender=app.tasks[TASK], request=SimpleNamespace(id="t-1"))
    _discarded(sender=SimpleNamespace(app=app), id="t-2", name="zoomq.actions.gone")
    assert ledger.count() == 0


def test_a_message_waiting_in_a_queue_the_worker_does_not_consume_is_not_resent(
    app: Celery, broker: BrokerKeys, redis_client: redis.Redis
) -> None:
    """A task sent with ``queue=`` to a list outside the worker's own is looked for there."""
    app.send_task(TASK, args=[{"userId": "u"}], task_id="t-other", queue="otherq")
    assert "otherq" not in broker.lists
    assert redis_client.llen("otherq") == 1
    now = [redis_client.time()[0] + 10_000.0]
    ledger = _ledger(redis_client, now)
    for _ in range(3):
        assert ledger.sweep(30, broker, settle=0).resend == []
        now[0] += 31
    assert ledger.suspects() == 0
