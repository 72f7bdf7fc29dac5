"""ZOOMQ_KEY_PREFIX with real processes: receiver → Redis → worker → Zoom, all under it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import redis

from tests.e2e.conftest import (
    SANDBOX_SCALE,
    start_receiver,
    start_worker,
    stop_worker,
    wait_for,
    worker_env,
)
from zoomq.redis_server import RedisServer
from zoomq.runtime.names import QUEUES
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer
from zoomq.sandbox.webhooks.events import build_event
from zoomq.sandbox.webhooks.sender import WebhookSender

pytestmark = pytest.mark.e2e

SECRET = "prefix-webhook-secret-0123456789"
PREFIX = "other"


@dataclass
class Deployment:
    sandbox: SandboxServer
    redis: redis.Redis
    webhook_url: str


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A redis-server, the sandbox, a worker and a receiver, all with ZOOMQ_KEY_PREFIX=other."""
    work = tmp_path_factory.mktemp("prefix")
    config = SandboxConfig(seed=13, rate_scale=SANDBOX_SCALE)
    with RedisServer(work / "redis") as server, SandboxServer(config) as sandbox:
        env = worker_env(work, sandbox, server.url)
        env.update(ZOOMQ_KEY_PREFIX=PREFIX, ZOOM_WEBHOOK_SECRET_TOKEN=SECRET)
        argv = [
            sys.executable, "-m", "celery", "-A", "worker.app", "worker",
            "--pool", "threads", "-c", "4", "-Q", ",".join(QUEUES),
            "--loglevel", "INFO", "-n", "prefix@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        worker = start_worker(argv, env, work / "worker.log")
        try:
            receiver, url = start_receiver(
                work, sandbox, server.url, work / "receiver.log",
                ZOOMQ_KEY_PREFIX=PREFIX, ZOOM_WEBHOOK_SECRET_TOKEN=SECRET,
            )  # fmt: skip
        except BaseException:
            stop_worker(worker)
            raise
        client = redis.Redis.from_url(server.url)
        try:
            yield Deployment(sandbox, client, url + "/webhooks/zoom")
        finally:
            receiver.terminate()
            receiver.wait(10)
            stop_worker(worker)
            client.close()


def celerys_own(key: bytes) -> bool:
    """Keys kombu's Redis transport writes under names of its own (queues, bindings, acks)."""
    name = key.decode()
    queue, _, priority = name.partition("\x06\x16")  # kombu's priority-list separator
    return (
        (queue in QUEUES and priority in ("", "3", "6", "9"))
        or name.startswith("_kombu.")
        or name in {"unacked", "unacked_index", "unacked_mutex"}
    )


def test_a_webhook_to_a_zoom_call_writes_only_prefixed_keys(deployment: Deployment) -> None:
    """Dedup marker, ledger, idempotency, tokens and rate limits all live under other:*."""
    state = deployment.sandbox.state
    meeting_id = state.seeded.registration_meeting_id
    email = "prefix@example.com"
    event = build_event(
        "meeting.registration_created",
        data={"id": 7001, "topic": "E2E launch", "registrant": {"email": email, "first_name": "P"}},
    )
    with httpx.Client() as http:
        result = WebhookSender(http, SECRET).deliver(deployment.webhook_url, event)
    assert result.delivered, result.describe()

    def copied() -> bool:
        with state.lock:
            found = state.store.meeting_registrants.get(meeting_id, {})
            return any(r["email"] == email for r in found.values())

    wait_for(copied, 30, "the copied registrant")
    keys = set(deployment.redis.keys("*"))
    ours = {k.decode() for k in keys if k.startswith(f"{PREFIX}:".encode())}
    outside = {k for k in keys if not k.decode().startswith(f"{PREFIX}:")}
    assert {k for k in outside if not celerys_own(k)} == set()
    kinds = {k.split(":")[1] for k in ours}
    # The receiver's dedup marker; the worker's idempotency records, token cache, rate limits.
    assert {"seen", "idem", "token", "rl"} <= kinds, sorted(kinds)
