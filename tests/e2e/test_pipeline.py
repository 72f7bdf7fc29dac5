"""The whole pipeline with real processes: Zoom's signed webhook → receiver (uvicorn) →
Redis → Celery worker → rules-file automation → action against the sandbox."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import E2E, REPO, wait_for, worker_env
from zoomq.redis_server import free_port
from zoomq.sandbox.webhooks.events import build_event
from zoomq.sandbox.webhooks.sender import WebhookSender

pytestmark = pytest.mark.e2e

SECRET = "e2e-webhook-secret-0123456789"


@pytest.fixture(scope="module")
def receiver_url(e2e: E2E, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`zoomq receiver` as its own process, on the e2e module's Redis."""
    env = worker_env(tmp_path_factory.mktemp("receiver"), e2e.sandbox, e2e.settings.redis_url)
    env["ZOOM_WEBHOOK_SECRET_TOKEN"] = SECRET
    port = free_port()
    log = tmp_path_factory.mktemp("receiver-log") / "receiver.log"
    with Path(log).open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "zoomq", "receiver", "--port", str(port)],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(url + "/readyz", timeout=0.5).status_code == 200
        except httpx.TransportError:
            return process.poll() is not None

    try:
        wait_for(ready, 30, "the receiver")
        assert process.poll() is None, Path(log).read_text()
        yield url + "/webhooks/zoom"
    finally:
        process.terminate()
        process.wait(10)


def test_signed_webhook_runs_the_rule_once(e2e: E2E, receiver_url: str) -> None:
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
    with httpx.Client() as http:
        sender = WebhookSender(http, SECRET)
        first = sender.deliver(receiver_url, event)
        assert first.delivered, first.describe()
        wait_for(lambda: e2e.registrants(email), 20, "the copied registrant")
        posts = e2e.posts()
        again = sender.deliver(receiver_url, event)  # Zoom's retry: same body, new signature
        assert again.delivered
        assert again.attempts[0].status == 200
    time.sleep(1.5)  # time enough for a wrongly enqueued duplicate to reach the sandbox
    assert e2e.posts() == posts
    assert len(e2e.registrants(email)) == 1


def test_unsigned_webhook_is_refused_and_not_enqueued(e2e: E2E, receiver_url: str) -> None:
    """A webhook signed with another secret gets 401 and nothing reaches the worker."""
    event = build_event(
        "meeting.registration_created",
        data={"id": 7001, "topic": "E2E launch", "registrant": {"email": "forged@example.com"}},
    )
    with httpx.Client() as http:
        result = WebhookSender(http, "not-the-secret").deliver(receiver_url, event)
    assert not result.delivered
    assert result.attempts[0].status == 401
    assert len(result.attempts) == 1  # Zoom does not retry a 4xx
    assert e2e.registrants("forged@example.com") == []
