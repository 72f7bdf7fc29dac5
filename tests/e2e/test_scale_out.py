"""Scale-out on one machine: two receivers and three workers share one Redis and one budget.

Real processes: a redis-server, two `zoomq receiver` (same settings, two ports), three
`zoomq worker` on every queue, and the sandbox with Zoom's Pro budgets (Light 30/s per
account). zoomq is told Light 20/s: two thirds, as the machine is shared and a request
reaches the sandbox up to a few hundred milliseconds after its slot (measured: 23 in the
busiest second). Every worker consumes every queue, so each one carries Light calls (bulk
items and the rule's registrants) and could spend the whole budget by itself: only the
Redis bucket they share keeps the sum within Zoom's (with a bucket per process the same
run gets hundreds of 429s). Together, at once:

- a bulk job of addMeetingRegistrant items, one request each, submitted over ``/v1/jobs``;
- a recording archive: recordings staged in the sandbox, their ``recording.completed``
  events sent to both receivers;
- a burst of signed registration webhooks split over both receivers (a rule copies each
  registrant), some bodies delivered to both, as Zoom's retries reach any replica.

Then: no 429 at the sandbox, and the budget was pressed; every bulk item succeeded once;
every acknowledged webhook was handled once (one queued answer across the receivers, one
event task, one registrant POST); every archived file is byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from receiver.dispatch import event_task_id
from tests.e2e.conftest import (
    WEBHOOK_SECRET,
    registration_event,
    start_receiver,
    start_worker,
    stop_worker,
    wait_for,
    worker_env,
)
from zoomq.archive.files import RecordingFile, files_of
from zoomq.archive.local import LocalStorage
from zoomq.clock import SystemClock
from zoomq.redis_server import RedisServer
from zoomq.runtime.dlq import DeadLetterStore
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.content import expected_sha256
from zoomq.sandbox.ratelimits import Category
from zoomq.sandbox.server import SandboxServer
from zoomq.sandbox.webhooks import build_headers, serialize
from zoomq.settings import DEFAULT_CONNECTION, Plan
from zoomq.webhooks import dedup_key, parse_envelope

pytestmark = pytest.mark.e2e

ACCOUNT = "sandbox-account"
#: Zoom's Pro Light budget (rate_scale 1.0) and what zoomq is told (see the docstring).
ZOOM_LIGHT = 30
CLIENT_LIGHT = 20.0
CLIENT_MEDIUM = 13.0
BULK_ITEMS = 280
EVENTS = 120
#: Every DUPLICATE_EVERY-th event is delivered to both receivers.
DUPLICATE_EVERY = 4
SENDERS = 4
RECORDINGS = [[192 * 1024, 48 * 1024, 8 * 1024]] * 3
API_KEY = "scale-tenant-" + "s" * 32
#: Three workers, each on every queue: each alone could send Light calls at 24/s.
WORKERS = 3


@dataclass
class Scale:
    tmp: Path
    sandbox: SandboxServer
    redis: redis.Redis
    receivers: list[str]
    worker_logs: list[Path]

    @property
    def meeting(self) -> int:
        return self.sandbox.state.seeded.registration_meeting_id

    def registrants(self, prefix: str) -> list[str]:
        with self.sandbox.state.lock:
            found = self.sandbox.state.store.meeting_registrants.get(self.meeting, {})
            return [r["email"] for r in found.values() if r["email"].startswith(prefix)]

    def worker_log(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-2000:] for p in self.worker_logs)


@pytest.fixture
def scale(tmp_path: Path) -> Iterator[Scale]:
    config = SandboxConfig(seed=31, plan=Plan.PRO, rate_scale=1.0)
    with RedisServer(tmp_path / "redis") as server, SandboxServer(config) as sandbox:
        assert sandbox.state.accounts[0].limiter.budget(Category.LIGHT).per_window == ZOOM_LIGHT
        # The archive's sync (every downloads worker schedules it) adds Medium listings.
        connections = tmp_path / "scale-connections.json"
        connections.write_text(json.dumps([{
            "name": "default", "account_id": ACCOUNT, "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
            "rate_limits": {"light": CLIENT_LIGHT, "medium": CLIENT_MEDIUM},
        }]))  # fmt: skip
        shared = {
            "ZOOMQ_CONNECTIONS_FILE": str(connections),
            "ZOOMQ_API_KEYS": json.dumps([{"name": "tenant-scale", "key": API_KEY}]),
            "ZOOMQ_ARCHIVE_ENABLED": "true",
            "ZOOMQ_ARCHIVE_DOWNLOAD_HOSTS": "127.0.0.1,localhost",
            "ZOOMQ_ARCHIVE_DEST": str(tmp_path / "archive"),
            "ZOOMQ_BULK_CONCURRENCY": "8",
        }
        env = {**worker_env(tmp_path, sandbox, server.url), **shared}
        env.pop("ZOOMQ_AUTOMATION_MODULES")  # its fetch-recording would download files too
        logs = [tmp_path / f"worker{n}.log" for n in range(WORKERS)]
        started: list[Any] = []
        lock = threading.Lock()

        def worker(n: int) -> None:
            argv = [
                sys.executable, "-m", "zoomq", "worker", "--pool", "threads", "-c", "8",
                "--queues", "events,actions,downloads,bulk", "--loglevel", "INFO",
                "-n", f"scale{n}@%h",
            ]  # fmt: skip
            process = start_worker(argv, env, logs[n], ready_timeout=60)
            with lock:
                started.append(process)

        def receiver(n: int) -> str:
            process, url = start_receiver(
                tmp_path / f"receiver{n}", sandbox, server.url,
                tmp_path / f"receiver{n}.log", **shared,
            )  # fmt: skip
            with lock:
                started.append(process)
            return url

        client = redis.Redis.from_url(server.url)
        try:
            with ThreadPoolExecutor(WORKERS + 2) as pool:
                workers = [pool.submit(worker, n) for n in range(WORKERS)]
                urls = [pool.submit(receiver, n) for n in range(2)]
                for future in workers:
                    future.result()
                receivers = [future.result() for future in urls]
            yield Scale(tmp_path, sandbox, client, receivers, logs)
        finally:
            for process in started:
                stop_worker(process)
            client.close()


def _light_per_second(scale: Scale, since: float) -> Counter[int]:
    """Registrant POSTs the sandbox answered, per wall-clock second (its window)."""
    path = f"/v2/meetings/{scale.meeting}/registrants"
    return Counter(
        int(r.time)
        for r in list(scale.sandbox.state.requests)
        if r.method == "POST" and r.path == path and r.time >= since
    )


def _created(scale: Scale) -> int:
    path = f"/v2/meetings/{scale.meeting}/registrants"
    records = list(scale.sandbox.state.requests)
    return sum(1 for r in records if r.method == "POST" and r.path == path and r.status == 201)


def _dispatched(scale: Scale) -> Counter[str]:
    """How often each event task finished dispatching, over the three workers' logs."""
    found: Counter[str] = Counter()
    for path in scale.worker_logs:
        for line in path.read_text(errors="replace").splitlines():
            if '"event.dispatched"' in line:
                task = re.search(r'"task_id": "([^"]+)"', line)
                if task:
                    found[task.group(1)] += 1
    return found


def _submit_bulk(scale: Scale) -> str:
    items = [
        {"meetingId": scale.meeting, "email": f"bulk-{i}@example.com", "firstName": "B"}
        for i in range(BULK_ITEMS)
    ]
    answer = httpx.post(
        scale.receivers[0] + "/v1/jobs",
        json={"action": "addMeetingRegistrant", "items": items, "batch": False},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    job_id: str = answer.json()["job_id"]
    return job_id


def _job(scale: Scale, job_id: str) -> dict[str, Any]:
    answer = httpx.get(
        scale.receivers[1] + f"/v1/jobs/{job_id}",
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    job: dict[str, Any] = answer.json()
    return job


def _post(client: httpx.Client, url: str, body: bytes) -> tuple[int, str]:
    """One signed delivery, redelivered as Zoom does until it is acknowledged."""
    for _ in range(20):
        try:
            headers = build_headers(WEBHOOK_SECRET, body, SystemClock())
            answer = client.post(url + "/webhooks/zoom", content=body, headers=headers)
            if answer.status_code == 200:
                return 200, str(answer.json()["status"])
            status = answer.status_code
        except httpx.TransportError:
            status = 0
        assert status in (0, 503), f"{url} answered {status}"
        time.sleep(0.2)
    raise AssertionError(f"{url} never acknowledged a webhook")


def _burst(scale: Scale, bodies: list[bytes]) -> dict[int, list[str]]:
    """Each body to one receiver, every fourth to both, shuffled over ``SENDERS`` threads."""
    deliveries = [(n, n % 2) for n in range(len(bodies))]
    deliveries += [(n, 1 - n % 2) for n in range(0, len(bodies), DUPLICATE_EVERY)]
    random.Random(11).shuffle(deliveries)
    answers: dict[int, list[str]] = {n: [] for n in range(len(bodies))}
    todo = iter(deliveries)
    lock = threading.Lock()

    def sender() -> None:
        with httpx.Client(timeout=5) as client:
            while True:
                with lock:
                    step = next(todo, None)
                if step is None:
                    return
                n, target = step
                _, status = _post(client, scale.receivers[target], bodies[n])
                with lock:
                    answers[n].append(status)

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def _stage_recordings(scale: Scale) -> list[tuple[dict[str, Any], list[RecordingFile]]]:
    state = scale.sandbox.state
    staged = []
    for sizes in RECORDINGS:
        rec = state.add_recording(state.seeded.meeting_id, file_sizes=sizes)
        staged.append((rec, files_of(rec, connection=DEFAULT_CONNECTION, account=ACCOUNT)))
    return staged


def _send_recordings(scale: Scale, staged: list[tuple[dict[str, Any], Any]]) -> None:
    token = scale.sandbox.state.issue_download_token()
    with httpx.Client(timeout=5) as client:
        for n, (rec, _) in enumerate(staged):
            event = {
                "event": "recording.completed",
                "event_ts": int(time.time() * 1000),
                "download_token": token,
                "payload": {"account_id": ACCOUNT, "object": rec},
            }
            status, answer = _post(client, scale.receivers[n % 2], serialize(event))
            assert (status, answer) == (200, "queued")


def _archived(store: LocalStorage, files: list[RecordingFile]) -> bool:
    manifest = store.read_manifest(store.manifest_key_for(files[0])) or {}
    return {f.file_id for f in files} <= set(manifest.get("files", {}))


def _assert_identical(store: LocalStorage, root: Path, f: RecordingFile) -> None:
    path = root / store.key_for(f)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == expected_sha256(f.file_id, f.file_size), f.file_id
    manifest = store.read_manifest(store.manifest_key_for(f)) or {}
    assert manifest["files"][f.file_id]["sha256"] == digest


def test_two_receivers_and_three_workers_keep_one_budget_and_lose_nothing(scale: Scale) -> None:
    state = scale.sandbox.state
    staged = _stage_recordings(scale)
    bodies = [
        serialize(registration_event(f"hook-{n}-{uuid.uuid4().hex[:6]}@example.com"))
        for n in range(EVENTS)
    ]
    task_ids = [event_task_id(DEFAULT_CONNECTION, dedup_key(parse_envelope(b), b)) for b in bodies]
    for account in state.accounts:
        account.reset_counters()
    started = time.time()

    with ThreadPoolExecutor(3) as pool:
        bulk = pool.submit(_submit_bulk, scale)
        archive = pool.submit(_send_recordings, scale, staged)
        burst = pool.submit(_burst, scale, bodies)
        job_id = bulk.result()
        archive.result()
        answers = burst.result()

    def job_done() -> dict[str, Any] | None:
        job = _job(scale, job_id)
        return job if job["status"] in ("completed", "cancelled") else None

    root = scale.tmp / "archive"
    store = LocalStorage(root)
    try:
        job = wait_for(job_done, 45, "the bulk job")
        wait_for(lambda: len(scale.registrants("hook-")) >= EVENTS, 20, "every webhook's effect")
        for _, files in staged:
            wait_for(partial(_archived, store, files), 20, "the archive")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{scale.worker_log()}") from None
    elapsed = time.time() - started
    time.sleep(1.0)  # anything sent twice late would show up now

    # One budget: Zoom refused nothing, and the load did press against it.
    per_second = _light_per_second(scale, started)
    for account in state.accounts:
        summary = account.summary()
        refused = [r for r in list(state.requests) if r.status == 429]
        why = (summary["requests_by_status"], summary["rate_limited"], refused, per_second)
        assert summary["requests_by_status"].get("429", 0) == 0, why
        assert summary["rate_limited"] == {}, why
    busiest = max(per_second.values())
    assert busiest <= ZOOM_LIGHT, per_second
    assert busiest >= CLIENT_LIGHT * 0.6, per_second  # the budget, not the machine, set the pace

    # The bulk job: every item once.
    assert job["status"] == "completed", job
    assert job["counts"]["succeeded"] == BULK_ITEMS, job
    bulk_emails = scale.registrants("bulk-")
    assert len(bulk_emails) == len(set(bulk_emails)) == BULK_ITEMS

    # The webhooks: all acknowledged, one of each body's deliveries queued, handled once.
    assert all(a for a in answers.values())
    queued = {n: a.count("queued") for n, a in answers.items()}
    assert all(q <= 1 for q in queued.values()), queued
    assert all(set(a) <= {"queued", "duplicate"} for a in answers.values()), answers
    dupes = [n for n, a in answers.items() if len(a) == 2]
    assert len(dupes) == len(range(0, EVENTS, DUPLICATE_EVERY))
    assert all(sorted(answers[n]) == ["duplicate", "queued"] for n in dupes), {
        n: answers[n] for n in dupes
    }
    dispatched = _dispatched(scale)
    assert [t for t in task_ids if dispatched[t] != 1] == []
    hook_emails = scale.registrants("hook-")
    assert len(hook_emails) == len(set(hook_emails)) == EVENTS
    # Each registrant was POSTed once: no item or event repeated its side effect.
    assert _created(scale) == BULK_ITEMS + EVENTS

    # The archive: every file, byte-identical.
    for _, files in staged:
        for f in files:
            _assert_identical(store, root, f)
    assert DeadLetterStore(scale.redis).entries(100) == []
    print(
        f"\n{BULK_ITEMS} bulk items, {EVENTS} webhooks ({len(dupes)} to both receivers), "
        f"{sum(len(f) for _, f in staged)} files in {elapsed:.1f}s; "
        f"busiest second {busiest} Light calls (Zoom's budget {ZOOM_LIGHT})"
    )
