"""A worker consuming events and bulk takes a waiting event before any chunk (kombu's order)."""

from __future__ import annotations

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Queue

from zoomq.jobs.models import JobRequest
from zoomq.jobs.submit import Fanout, submit
from zoomq.runtime.celery_message import build_task_message
from zoomq.runtime.jobs import JobStore
from zoomq.runtime.names import EVENT_TASK, EVENTS_QUEUE, RUN_CHUNK_TASK
from zoomq.settings import JobsSettings


@pytest.mark.parametrize("order", [["bulk", "events"], ["events", "bulk"]])
def test_events_are_taken_before_chunks_whatever_the_queue_order(
    redis_url: str, redis_client: redis.Redis, order: list[str]
) -> None:
    """Chunks wait on bulk's priority-6 list, events on their plain list: kombu's Redis
    transport reads every priority-0 list first, so the event comes out first even when
    the chunks were queued before it and bulk is listed first."""
    store = JobStore(redis_client)
    submit(
        store,
        Fanout(JobsSettings(chunk_size=1, window=3)),
        "a",
        JobRequest(action="getUser", items=[{"userId": "me"}] * 3),
    )
    event = build_task_message(EVENT_TASK, [{"event": "x"}], {}, "evt-1", EVENTS_QUEUE)
    redis_client.lpush(EVENTS_QUEUE, event)
    queues = [Queue(name, Exchange(name, type="direct"), routing_key=name) for name in order]
    taken: list[str] = []
    with Connection(redis_url) as conn:
        channel = conn.channel()

        def on_message(body: object, message: object) -> None:
            taken.append(message.headers["task"])  # type: ignore[attr-defined]
            message.ack()  # type: ignore[attr-defined]

        with Consumer(channel, queues, callbacks=[on_message], accept=["json"]):
            while len(taken) < 4:
                conn.drain_events(timeout=5)
    assert taken[0] == EVENT_TASK
    assert taken[1:] == [RUN_CHUNK_TASK] * 3
