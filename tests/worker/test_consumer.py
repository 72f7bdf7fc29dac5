"""The dead-lettering consumer's edges: raw entries in the store, and a store that fails.

The end-to-end path (a real worker consuming a real message) is tests/e2e/test_undecodable.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from kombu import Connection, Queue
from kombu.exceptions import DecodeError
from kombu.message import Message
from structlog.testing import capture_logs

from tasks.runtime import Runtime
from worker.app import create_celery
from worker.consumer import DeadLetteringConsumer
from zoomq.redis_server import free_port
from zoomq.runtime.dlq import UNDECODABLE, DeadLetterStore
from zoomq.runtime.ledger import Ledger
from zoomq.runtime.message import TaskMessage
from zoomq.settings import Settings


@pytest.fixture
def memory_message() -> Iterator[tuple[Message, Queue]]:
    """A real kombu message, taken from an in-memory queue (so reject/ack really act)."""
    yield from _memory_message({"task": "zoomq.events.handle", "id": "evt-abc"})


def _memory_message(headers: dict[str, str]) -> Iterator[tuple[Message, Queue]]:
    with Connection("memory://") as connection:
        queue = Queue("events", routing_key="events")(connection.default_channel)
        queue.declare()
        queue.purge()
        producer = connection.Producer(serializer=None)
        producer.publish(
            b"[[[not json",
            routing_key="events",
            content_type="application/json",
            content_encoding="utf-8",
            headers=headers,
        )
        message = queue.get(no_ack=False)
        assert message is not None
        yield message, queue


def test_a_raw_entry_is_kept_and_never_replayed(redis_client: redis.Redis) -> None:
    """add_undecodable keeps body text, headers and properties; replay leaves it alone."""
    store = DeadLetterStore(redis_client)
    entry = store.add_undecodable(
        body=b"[[[\xff not json",
        content_type="application/json",
        content_encoding="utf-8",
        headers={"task": "zoomq.events.handle", "id": "evt-1"},
        properties={"delivery_tag": "t-1"},
        error=DecodeError("Expecting value"),
        queue="events",
    )
    found = store.get("evt-1")
    assert found == entry
    assert found.error["type"] == UNDECODABLE
    assert found.error["message"] == "DecodeError: Expecting value"
    assert found.error["raw"]["body"] == "[[[\ufffd not json"
    assert found.error["raw"]["headers"]["task"] == "zoomq.events.handle"
    assert (found.message.name, found.message.queue) == ("zoomq.events.handle", "events")
    sent: list[object] = []
    assert store.replay("evt-1", sent.append) is None
    assert store.replay_all(sent.append) == []
    assert sent == []
    assert store.get("evt-1") is not None


def test_no_task_id_falls_back_to_the_delivery_tag(redis_client: redis.Redis) -> None:
    """A message without Celery headers is still stored, under its delivery tag."""
    store = DeadLetterStore(redis_client)
    entry = store.add_undecodable(
        body="garbage",
        content_type=None,
        content_encoding=None,
        headers=None,
        properties={"delivery_tag": "tag-9"},
        error=ValueError("bad"),
    )
    assert (entry.id, entry.message.name) == ("tag-9", "?")


def test_the_consumer_dead_letters_then_acks(
    memory_message: tuple[Message, Queue], redis_url: str
) -> None:
    """on_decode_error writes the entry, then Celery's handler acknowledges the message."""
    message, queue = memory_message
    app = create_celery(Settings(_env_file=None, redis_url=redis_url))
    consumer = object.__new__(DeadLetteringConsumer)  # only the handlers are exercised
    consumer.app = app
    consumer.on_decode_error(message, DecodeError("Expecting value"))
    entry = DeadLetterStore(redis.Redis.from_url(redis_url)).get("evt-abc")
    assert entry is not None
    assert entry.error["raw"]["body"] == "[[[not json"
    assert message.acknowledged
    assert queue.get() is None


def test_a_store_that_fails_requeues_the_message(memory_message: tuple[Message, Queue]) -> None:
    """With Redis unreachable the message goes back on its queue instead of being acked."""
    message, queue = memory_message
    settings = Settings(_env_file=None, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    app = create_celery(settings, runtime=Runtime(settings))
    consumer = object.__new__(DeadLetteringConsumer)
    consumer.app = app
    consumer.on_decode_error(message, DecodeError("Expecting value"))
    again = queue.get(no_ack=True)
    assert again is not None
    assert again.body == b"[[[not json"


def test_a_message_that_is_no_task_is_dead_lettered(redis_url: str) -> None:
    """No task header: Celery warns and rejects it; it is kept, under its delivery tag."""
    for message, queue in _memory_message({}):
        app = create_celery(Settings(_env_file=None, redis_url=redis_url))
        consumer = object.__new__(DeadLetteringConsumer)
        consumer.app = app
        consumer.connection_errors = ()  # what Celery's handler reads of a started consumer
        consumer.on_unknown_message(None, message)
        store = DeadLetterStore(redis.Redis.from_url(redis_url))
        [entry] = store.entries()
        assert entry.id == message.delivery_tag
        assert entry.error["message"].startswith("ValueError: not a Celery task message")
        assert message.acknowledged  # rejected without requeue: nothing left on the queue
        assert queue.get() is None


def test_a_dead_lettered_message_leaves_the_ledger(
    memory_message: tuple[Message, Queue], redis_url: str
) -> None:
    """Its ledger record is dropped, so a ledger sweep can never run it from the DLQ."""
    message, _queue = memory_message
    settings = Settings(_env_file=None, redis_url=redis_url)
    app = create_celery(settings)
    ledger = Ledger(redis.Redis.from_url(redis_url))
    ledger.record(
        TaskMessage(name="zoomq.events.handle", args=[], kwargs={}, task_id="evt-abc"), 0.0
    )
    assert ledger.count() == 1
    consumer = object.__new__(DeadLetteringConsumer)
    consumer.app = app
    consumer.on_decode_error(message, DecodeError("Expecting value"))
    assert DeadLetterStore(redis.Redis.from_url(redis_url)).get("evt-abc") is not None
    assert ledger.count() == 0


def test_the_consumer_never_logs_the_message_body(
    memory_message: tuple[Message, Queue], redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Celery's handlers dump the body (arguments, tokens); this one logs without it."""
    message, _queue = memory_message
    app = create_celery(Settings(_env_file=None, redis_url=redis_url))
    consumer = object.__new__(DeadLetteringConsumer)
    consumer.app = app
    consumer.connection_errors = ()
    with capture_logs() as logs, caplog.at_level("DEBUG"):
        consumer.on_invalid_task(None, message, ValueError("refused content"))
    assert "not json" not in caplog.text
    assert "not json" not in repr(logs)
    assert [entry["event"] for entry in logs] == ["message.dead_lettered"]
    assert message.acknowledged
