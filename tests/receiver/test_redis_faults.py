"""Durable acknowledgement: 503 promptly when Redis cannot confirm, 200 again once it can."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from receiver import create_app
from tests.receiver.conftest import ServerThread, event_body, make_settings, queued, signed
from zoomq.redis_server import RedisServer


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for this test alone, which it may kill, freeze and restart."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.process.send_signal(signal.SIGCONT)
    server.stop()


@pytest.fixture
def receiver(own_redis: RedisServer, tmp_path: Path) -> Iterator[httpx.Client]:
    app = create_app(make_settings(own_redis.url, tmp_path))
    with ServerThread(app) as running, httpx.Client(base_url=running.url, timeout=5) as http:
        yield http


def post_timed(http: httpx.Client, body: bytes) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = http.post("/webhooks/zoom", content=body, headers=signed(body))
    return response, time.monotonic() - started


def test_redis_down_is_503_then_recovers_on_the_same_port(
    receiver: httpx.Client, own_redis: RedisServer
) -> None:
    """Killed Redis: 503 well inside Zoom's 3 s; restarted: the retried event is queued."""
    warm = event_body()
    assert post_timed(receiver, warm)[0].status_code == 200
    own_redis.kill()

    body = event_body("meeting.updated")
    response, elapsed = post_timed(receiver, body)
    assert response.status_code == 503
    assert response.json() == {"error": "queue unavailable"}
    assert elapsed < 1.5
    assert receiver.get("/readyz").status_code == 503
    assert receiver.get("/healthz").status_code == 200

    own_redis.start()  # same port, empty: the data and the script cache are gone
    response, _ = post_timed(receiver, body)  # Zoom's retry of the refused event
    assert response.status_code == 200
    assert response.json() == {"status": "queued"}
    assert receiver.get("/readyz").status_code == 200
    with redis.Redis.from_url(own_redis.url) as client:
        assert len(queued(client)) == 1
    assert 'outcome="unavailable"' in receiver.get("/metrics").text


def test_frozen_redis_is_503_within_the_timeout_and_retry_is_not_doubled(
    receiver: httpx.Client, own_redis: RedisServer
) -> None:
    """A Redis that stops answering: 503 after ~1 s; Zoom's retry later lands exactly once."""
    assert post_timed(receiver, event_body())[0].status_code == 200
    assert own_redis.process is not None
    own_redis.process.send_signal(signal.SIGSTOP)
    body = event_body("user.updated")
    try:
        response, elapsed = post_timed(receiver, body)
        assert response.status_code == 503
        assert 0.9 < elapsed < 1.5
    finally:
        own_redis.process.send_signal(signal.SIGCONT)
    # The write may still have happened after the 503; the retry must not queue it twice.
    deadline = time.monotonic() + 10
    while True:
        response, _ = post_timed(receiver, body)
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert response.status_code == 200
    with redis.Redis.from_url(own_redis.url) as client:
        messages = queued(client)
    assert len(messages) == 2  # the warm-up event and this one, once
