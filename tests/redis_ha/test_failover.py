"""A Sentinel failover in the middle of a webhook burst loses no acknowledged webhook.

Real processes: a master, its replica and two Sentinels (redis-server), the receiver
(`zoomq receiver`) and a Celery worker, both on ``REDIS_URL=sentinel://...``. Webhooks are
signed and POSTed from several threads; a third of the way in, ``SENTINEL FAILOVER``
promotes the replica and demotes the master. Every webhook answered 200 must then be on
the new master: its task ran, or its message waits in the events queue. A webhook answered
503 meanwhile is delivered again, as Zoom would, until it is acknowledged. The receiver
waits for the replica (``ZOOMQ_REDIS_WAIT_REPLICAS=1``) before it answers 200; and the
worker, on the same Sentinel URL, ends up running every event from the new master.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from receiver.dispatch import event_task_id
from tests.e2e.conftest import (
    WEBHOOK_SECRET,
    fast_worker_env,
    registration_event,
    start_receiver,
    start_worker,
    stop_worker,
    wait_for,
)
from tests.redis_ha.conftest import MASTER_NAME, SentinelGroup
from zoomq.clock import SystemClock
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer
from zoomq.sandbox.webhooks import build_headers, serialize
from zoomq.settings import DEFAULT_CONNECTION
from zoomq.webhooks import dedup_key, parse_envelope

pytestmark = pytest.mark.e2e

EVENTS = 300
THREADS = 6


def _task_ids_in(client: object, queue: str) -> list[str]:
    found = []
    for raw in client.lrange(queue, 0, -1):  # type: ignore[attr-defined]
        found.append(json.loads(raw)["headers"]["id"])
    return found


def _ran(log: Path) -> set[str]:
    """Task ids whose event task finished dispatching, from the worker's JSON log."""
    done = set()
    for line in log.read_text(errors="replace").splitlines():
        if '"event.dispatched"' in line:
            found = re.search(r'"task_id": "([^"]+)"', line)
            if found:
                done.add(found.group(1))
    return done


def test_a_failover_mid_burst_loses_no_acknowledged_webhook(
    sentinel_group: SentinelGroup, tmp_path: Path
) -> None:
    group = sentinel_group
    ha = {"ZOOMQ_REDIS_SENTINEL_MASTER": MASTER_NAME}
    with SandboxServer(SandboxConfig(seed=3)) as sandbox:
        receiver, url = start_receiver(
            tmp_path / "receiver", sandbox, group.url, tmp_path / "receiver.log",
            ZOOMQ_REDIS_WAIT_REPLICAS="1", **ha,
        )  # fmt: skip
        env = fast_worker_env(tmp_path, sandbox, group.url, **ha)
        argv = [
            sys.executable, "-m", "celery", "-A", "worker.app", "worker", "--pool", "threads",
            "-c", "4", "-Q", "events", "-n", "ha@%h", "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        worker_log = tmp_path / "worker.log"
        try:
            worker = start_worker(argv, env, worker_log)
        except BaseException:
            stop_worker(receiver)
            raise
        try:
            _burst_through_failover(group, url + "/webhooks/zoom", worker_log)
        finally:
            stop_worker(receiver)
            stop_worker(worker)


def _burst_through_failover(group: SentinelGroup, webhook: str, worker_log: Path) -> None:
    bodies = [
        serialize(registration_event(f"ha-{n}-{uuid.uuid4().hex[:6]}@example.com", "HA"))
        for n in range(EVENTS)
    ]
    ids = [event_task_id(DEFAULT_CONNECTION, dedup_key(parse_envelope(b), b)) for b in bodies]
    answers: dict[int, list[int]] = {n: [] for n in range(EVENTS)}
    next_item = iter(range(EVENTS))
    lock = threading.Lock()
    clock = SystemClock()

    def post(client: httpx.Client, n: int) -> int:
        try:
            headers = build_headers(WEBHOOK_SECRET, bodies[n], clock)
            status = client.post(webhook, content=bodies[n], headers=headers).status_code
        except httpx.TransportError:
            status = 0
        answers[n].append(status)
        return status

    def sender() -> None:
        with httpx.Client(timeout=5) as client:
            while True:
                with lock:
                    n = next(next_item, None)
                if n is None:
                    return
                post(client, n)
                time.sleep(0.005)

    old_master = group.master_port_now()
    threads = [threading.Thread(target=sender) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    wait_for(lambda: sum(1 for a in answers.values() if a) >= EVENTS // 3, 20, "a third sent")
    sentinel = group.sentinel()
    assert sentinel.execute_command("SENTINEL", "FAILOVER", MASTER_NAME)
    sentinel.close()
    for thread in threads:
        thread.join(30)
    wait_for(lambda: group.master_port_now() != old_master, 15, "the new master")
    new_master = group.master_port_now()
    assert new_master == group.replica_port

    acknowledged = {n for n, a in answers.items() if a and a[-1] == 200}
    refused = {n for n, a in answers.items() if not a or a[-1] != 200}
    assert all(a[-1] in (200, 503, 0) for a in answers.values() if a), answers
    # Zoom delivers a refused webhook again: each must be acknowledged in the end.
    with httpx.Client(timeout=5) as client:
        for n in sorted(refused):
            wait_for(lambda n=n: post(client, n) == 200, 15, f"webhook {n} acknowledged")

    client = group.client(new_master)
    try:
        # Every acknowledged event is on the new master: run by the worker, or queued.
        def all_there() -> bool:
            present = set(_task_ids_in(client, "events")) | _ran(worker_log)
            return all(ids[n] in present for n in range(EVENTS))

        wait_for(all_there, 20, "every acknowledged event on the new master")
        queued = _task_ids_in(client, "events")
        assert len(queued) == len(set(queued))  # none enqueued twice
        # The worker followed the failover too: it runs every event from the new master and
        # drains its queue. (A message popped from the old master just before the switch may
        # come back, its pop lost with it, and run once more: at-least-once, and the event
        # task is idempotent.)
        wait_for(lambda: set(ids) <= _ran(worker_log), 20, "the worker to run every event")
        wait_for(lambda: client.llen("events") == 0, 20, "the events queue to drain")
    finally:
        client.close()
    # The failover happened mid-burst: some webhooks were answered before it, some after.
    assert len(acknowledged) >= EVENTS // 3
    print(
        f"\n{EVENTS} webhooks: {len(acknowledged)} acknowledged at once, "
        f"{len(refused)} refused during the switch and acknowledged on redelivery"
    )
