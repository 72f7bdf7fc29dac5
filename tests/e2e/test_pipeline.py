"""The whole pipeline with real processes: Zoom's signed webhook → receiver (uvicorn) →
Redis → Celery worker → rules-file automation → action against the sandbox."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from receiver.dispatch import event_task_id
from tests.e2e.conftest import E2E, WEBHOOK_SECRET, wait_for
from zoomq.runtime.ledger import MESSAGES_KEY
from zoomq.sandbox.webhooks import WebhookSender, build_event, serialize
from zoomq.settings import DEFAULT_CONNECTION
from zoomq.webhooks import dedup_key, parse_envelope

pytestmark = pytest.mark.e2e

DEDUP_HITS = "zoomq_webhook_dedup_hits_total"


def test_signed_webhook_runs_the_rule_once(e2e: E2E) -> None:
    """A signed meeting.registration_created copies the registrant; a redelivery adds nothing."""
    email = "pipeline@example.com"
    event = build_event(
        "meeting.registration_created",
        data={
            "id": 7001,
            "topic": "E2E launch",
            "registrant": {"email": email, "first_name": "Pi"},
        },
    )
    body = serialize(event)
    task_id = event_task_id(DEFAULT_CONNECTION, dedup_key(parse_envelope(body), body))
    with httpx.Client() as http:
        sender = WebhookSender(http, WEBHOOK_SECRET)
        first = sender.deliver(e2e.webhook_url, event)
        assert first.delivered, first.describe()
        wait_for(lambda: e2e.registrants(email), 20, "the copied registrant")
        posts = e2e.posts()
        hits = e2e.receiver_metric(DEDUP_HITS)
        again = sender.deliver(e2e.webhook_url, event)  # Zoom's retry: same body, new signature
        assert again.delivered
        assert again.attempts[0].status == 200
    # The receiver checks its marker and pushes in one Lua call, and answers only after it:
    # the hit counted by the time it answered means this delivery pushed nothing. A push would
    # also have recorded the task in the ledger in that same call (the first delivery's record
    # is long gone: its task has run).
    assert e2e.receiver_metric(DEDUP_HITS) == hits + 1
    assert e2e.redis.hget(MESSAGES_KEY, task_id) is None
    assert not any(task_id.encode() in item for item in e2e.redis.lrange("events", 0, -1))
    assert e2e.posts() == posts
    assert len(e2e.registrants(email)) == 1


def test_unsigned_webhook_is_refused_and_not_enqueued(e2e: E2E) -> None:
    """A webhook signed with another secret gets 401 and nothing reaches the worker."""
    event = build_event(
        "meeting.registration_created",
        data={"id": 7001, "topic": "E2E launch", "registrant": {"email": "forged@example.com"}},
    )
    digest = hashlib.sha256(serialize(event)).hexdigest()
    refused = 'zoomq_webhook_signature_failures_total{reason="bad_signature"}'
    before = e2e.receiver_metric(refused)
    with httpx.Client() as http:
        result = WebhookSender(http, "not-the-secret").deliver(e2e.webhook_url, event)
    assert not result.delivered
    assert result.attempts[0].status == 401
    assert len(result.attempts) == 1  # Zoom does not retry a 4xx
    assert e2e.receiver_metric(refused) == before + 1
    # An enqueue is confirmed before the answer and leaves a dedup marker that outlives the
    # task: had the forged body been enqueued, a key naming it would be in Redis now.
    assert e2e.redis.keys(f"*{digest}*") == []
    assert e2e.registrants("forged@example.com") == []
