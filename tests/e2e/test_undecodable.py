"""Messages the worker cannot run, with real processes: a Celery worker dead-letters them
(and keeps working), and a receiver under uvicorn refuses a body too deep to decode."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import E2E, REPO, WEBHOOK_SECRET, registration_event, wait_for
from zoomq.runtime import RawJSON, build_task_message
from zoomq.runtime.dlq import UNDECODABLE, DeadLetter, DeadLetterStore
from zoomq.webhooks import sign

pytestmark = pytest.mark.e2e


def push(e2e: E2E, name: str, arg: Any, task_id: str, content_type: str | None = None) -> None:
    """LPUSH a task message straight onto the events queue, as the receiver writes it."""
    meta = {"connection": "default", "received_at": time.time(), "correlation_id": task_id}
    message = build_task_message(name, [arg], {"meta": meta}, task_id, "events")
    if content_type is not None:
        message = message.replace(b'"application/json"', json.dumps(content_type).encode(), 1)
    e2e.redis.lpush("events", message)


def dead_letter(e2e: E2E, task_id: str) -> DeadLetter:
    store = DeadLetterStore(e2e.redis)
    found: DeadLetter = wait_for(lambda: store.get(task_id), 20, f"dead letter {task_id}")
    return found


def dlq_list(e2e: E2E) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM", "REDIS"))}
    env["REDIS_URL"] = e2e.settings.redis_url
    done = subprocess.run(
        [sys.executable, "-m", "zoomq", "dlq", "list"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return done.stdout


def assert_still_working(e2e: E2E) -> None:
    email = f"after-{uuid.uuid4().hex[:8]}@example.com"
    e2e.send_event(registration_event(email), correlation_id=uuid.uuid4().hex)
    wait_for(lambda: e2e.registrants(email), 20, "the worker to run a task afterwards")


@pytest.mark.parametrize(
    ("arg", "content_type", "error"),
    [
        pytest.param(RawJSON(b"[" * 5000 + b"]" * 5000), None, "DecodeError", id="5000-deep"),
        pytest.param(RawJSON(b'{"event": "x", nope}'), None, "DecodeError", id="invalid-json"),
        # Refused before decoding (never unpickled): Celery would log and reject it.
        pytest.param(
            RawJSON(b'{"event": "x"}'),
            "application/x-python-serialize",
            "ContentDisallowed",
            id="pickle",
        ),
    ],
)
def test_an_undecodable_message_is_dead_lettered_raw(
    e2e: E2E, arg: RawJSON, content_type: str | None, error: str
) -> None:
    """Celery would log and drop it; it is in the dead-letter store, body and headers as they
    came, ``zoomq dlq list`` shows it, and the worker goes on running tasks."""
    task_id = f"evt-undecodable-{uuid.uuid4().hex}"
    push(e2e, "zoomq.events.handle", arg, task_id, content_type)
    entry = dead_letter(e2e, task_id)
    assert entry.error["type"] == UNDECODABLE
    assert entry.error["message"].startswith(error)
    raw = entry.error["raw"]
    assert bytes(arg)[:100].decode() in raw["body"]
    assert raw["headers"]["task"] == "zoomq.events.handle"
    assert raw["headers"]["id"] == task_id
    assert raw["properties"]["delivery_info"]["routing_key"] == "events"
    assert entry.message.queue == "events"
    assert task_id in dlq_list(e2e)
    assert_still_working(e2e)
    # Not replayable (there is no task to send): it stays for inspection.
    assert DeadLetterStore(e2e.redis).replay(task_id, lambda _message: None) is None
    assert DeadLetterStore(e2e.redis).get(task_id) is not None


def test_an_unknown_task_is_dead_lettered_for_replay(e2e: E2E) -> None:
    """A task this worker does not know (a newer sender) is kept, decoded, to replay later."""
    task_id = f"evt-unknown-{uuid.uuid4().hex}"
    push(e2e, "zoomq.events.not_in_this_version", {"event": "meeting.created"}, task_id)
    entry = dead_letter(e2e, task_id)
    assert entry.error["type"] == "NotRegistered"
    assert entry.message.name == "zoomq.events.not_in_this_version"
    assert entry.message.args == [{"event": "meeting.created"}]
    assert entry.message.kwargs["meta"]["correlation_id"] == task_id
    assert entry.connection == "default"
    assert "zoomq.events.not_in_this_version" in dlq_list(e2e)
    assert_still_working(e2e)


# -- the receiver refuses such a body before Redis -------------------------------------------


def test_a_thousand_deep_signed_body_is_400_and_leaves_redis_alone(e2e: E2E) -> None:
    """1,000-deep signed JSON: 400 too_deep, no dedup key, nothing queued, so Zoom's
    redelivery gets 400 again instead of 200 "duplicate"."""
    deep = b"[" * 998 + b"]" * 998
    body = b'{"event":"meeting.created","event_ts":%d,"payload":{"d":%b}}' % (
        int(time.time() * 1000),
        deep,
    )
    digest = hashlib.sha256(body).hexdigest()
    with httpx.Client(timeout=10) as http:
        for _ in range(2):
            timestamp = str(int(time.time()))
            headers = {
                "content-type": "application/json",
                "x-zm-request-timestamp": timestamp,
                "x-zm-signature": sign(WEBHOOK_SECRET, timestamp, body),
            }
            response = http.post(e2e.webhook_url, content=body, headers=headers)
            assert (response.status_code, response.json()) == (400, {"error": "too_deep"})
    # No dedup marker (nor any key naming the body); the marker is written atomically
    # with the queue item, and a queued item would have been dead-lettered by the worker.
    assert e2e.redis.keys(f"*{digest}*") == []
    assert not any(digest.encode() in item for item in e2e.redis.lrange("events", 0, -1))
    assert DeadLetterStore(e2e.redis).get(f"evt-{digest}") is None
