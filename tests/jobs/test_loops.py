"""A chunk keeps as many items in flight as its account's budget needs, no more.

Real HTTP over loopback: the sandbox (answers in about a millisecond) and a server of this
test that takes 40 ms per answer. Threads are counted where the executor asks for the
client, which happens on the thread that sends the item.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis
from pydantic import ValidationError

from tasks.policy import decide
from tests.sandbox_settings import sandbox_settings
from zoomq.client.http import ZoomClient
from zoomq.client.ratelimit import RedisRateLimiter, SlotBank
from zoomq.jobs.execute import ChunkExecutor, loops_needed
from zoomq.jobs.models import JobRequest
from zoomq.jobs.submit import Fanout, submit
from zoomq.runtime.idempotency import IdempotencyStore
from zoomq.runtime.jobs import JobStore
from zoomq.runtime.keys import Keys
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import Connection, JobsSettings, Settings

SLOW = 0.04


def test_loops_follow_littles_law_within_bounds() -> None:
    assert loops_needed(80.0, None, 16) == 2  # nothing known yet: start small
    assert loops_needed(None, 0.2, 16) == 16  # no budget known: the cap
    assert loops_needed(80.0, 0.001, 16) == 2  # twice 0.08 in flight, + 1, at least 2
    assert loops_needed(80.0, 0.2, 16) == 16  # 17 wanted, capped
    assert loops_needed(80.0, 0.2, 1) == 1  # a one-item chunk: one loop
    assert loops_needed(80.0, None, 1) == 1
    assert loops_needed(80.0, 0.05, 16) == 9  # ceil(2 x 80 x 0.05) + 1
    assert loops_needed(math.inf, 0.01, 16) == 16  # a budget without bound
    assert loops_needed(math.inf, 0.0, 16) == 16  # inf x 0 is nan: the cap, not an error


@pytest.mark.parametrize("rate", ["inf", "nan", "-1", "Infinity", "1e-4", "1e-14"])
def test_a_budget_that_is_no_rate_is_refused_naming_it(rate: str) -> None:
    with pytest.raises(ValidationError, match="rate_limits\\['light'\\]"):
        Connection(
            name="c", account_id="a", client_id="i", client_secret="s3cr3t-value",
            rate_limits={"light": float(rate)},
        )  # fmt: skip


def test_latency_is_the_lower_envelope_of_exchanges(sandbox: SandboxServer, redis_url: str) -> None:
    """A fast exchange sets it; slow ones (a loaded process) raise it only slowly."""
    settings = sandbox_settings(sandbox, redis_url)
    with ZoomClient(settings, settings.connection()) as client:
        assert client.latency is None
        client.request("GET", "/users/me")
        first = client.latency
        assert first is not None
        assert 0 < first < 1
        client._took(first / 2)
        assert client.latency == first / 2
        client._took(10.0)
        assert first / 2 < client.latency < 1.0  # one slow answer moves it by 2 %
        settled = client.latency
        client._took(settled / 10, 429)
        client._took(settled / 10, 503)
        assert client.latency == settled  # a limit or a failure says nothing of Zoom's time
        client._took(settled / 10, 404)
        assert client.latency == settled / 10  # a refusal is Zoom's answer, as any


class _Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        time.sleep(SLOW)
        body = json.dumps({"id": "slow-user", "email": "s@example.com"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=5, rate_limits=False)) as server:
        yield server


@pytest.fixture
def slow_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v2"
    server.shutdown()
    server.server_close()


def _run(
    settings: Settings, redis_client: redis.Redis, items: int, light: float
) -> tuple[set[int], list[float], float]:
    """One getUser chunk of ``items``; the threads that sent, when ``drained`` was called
    (seconds from the start), and how long the chunk took."""
    conn = settings.connection().model_copy(update={"rate_limits": {"light": light}})
    assert isinstance(conn, Connection)
    keys = Keys()
    store = JobStore(redis_client, keys=keys)
    client = ZoomClient(
        settings, conn, redis_client=redis_client, limiter=SlotBank(RedisRateLimiter(redis_client))
    )
    threads: set[int] = set()

    def client_for(name: str | None) -> ZoomClient:
        threads.add(threading.get_ident())
        return client

    executor = ChunkExecutor(
        store,
        IdempotencyStore(redis_client, keys=keys),
        client_for,
        queue=settings.queue,
        jobs=settings.jobs,
        decide=decide,
    )
    view, _ = submit(
        store,
        Fanout(settings.jobs),
        "t",
        JobRequest(action="getUser", items=[{"userId": "me"}] * items),
    )
    told: list[float] = []
    started = time.monotonic()
    try:
        report = executor.run(
            view.job_id,
            list(range(items)),
            owner="o",
            drained=lambda: told.append(time.monotonic() - started),
        )
    finally:
        executor.close()
        client.close()
    took = time.monotonic() - started
    assert report.counts["succeeded"] == items
    threads.discard(threading.get_ident())  # the executor's own look-ups of the client
    return threads, told, took


def test_a_fast_api_is_served_by_few_threads(
    sandbox: SandboxServer, redis_url: str, redis_client: redis.Redis
) -> None:
    settings = sandbox_settings(
        sandbox, redis_url, jobs=JobsSettings(chunk_size=200, concurrency=16)
    )
    threads, told, _ = _run(settings, redis_client, 200, light=400.0)
    # 400/s at ~1 ms is under one request in flight: 2 loops (the calling thread and one
    # helper), 3 if a slow first answer was still the envelope when a loop looked.
    assert 1 <= len(threads) <= 3, threads
    assert len(told) == 1


def test_a_slow_api_gets_the_loops_its_budget_needs(
    sandbox: SandboxServer, slow_api: str, redis_url: str, redis_client: redis.Redis
) -> None:
    """40 ms an answer at 100/s: twice 4 in flight + 1 = 9 loops, grown from 2 as answers
    came (well under the cap of 16)."""
    settings = sandbox_settings(
        sandbox, redis_url, jobs=JobsSettings(chunk_size=100, concurrency=16)
    ).model_copy(update={"zoom_api_base_url": slow_api})
    threads, told, took = _run(settings, redis_client, 100, light=100.0)
    assert 6 <= len(threads) <= 12, threads
    # 100 items at 100/s is 1 s at best; 2 loops would have taken 100 x 40 ms / 2 = 2 s.
    assert took < 1.8
    assert len(told) == 1
    assert told[0] < took
