"""Bulk jobs end to end: real Celery worker processes, a redis-server with AOF, the sandbox.

Jobs are submitted through the Python API (``zoomq.jobs.submit``) as the receiver does;
chunk tasks reach the worker as the messages ``submit`` writes, by task name.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.e2e.conftest import start_worker, stop_worker, wait_for, worker_env
from zoomq.jobs.models import ItemState, JobRequest, JobStatus, JobView
from zoomq.jobs.submit import Fanout, cancel, submit
from zoomq.redis_server import RedisServer
from zoomq.runtime.jobs import JobStore
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import JobsSettings

pytestmark = pytest.mark.e2e

ITEMS = 2000
#: The "slow" connection's Medium budget: a job on it runs long enough to cancel.
SLOW_MEDIUM = 40.0


@dataclass
class Stack:
    tmp: Path
    redis_server: RedisServer
    sandbox: SandboxServer
    env: dict[str, str]
    argv: list[str]
    worker: Any
    logs: int = 0

    @property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_server.url)

    @property
    def store(self) -> JobStore:
        return JobStore(self.redis)

    def start_worker(self) -> None:
        self.logs += 1
        name = f"w{self.logs}@%h"
        self.worker = start_worker(
            [*self.argv, "-n", name], self.env, self.tmp / f"worker{self.logs}.log"
        )

    def log(self) -> str:
        return (self.tmp / f"worker{self.logs}.log").read_text(errors="replace")[-4000:]

    def submit(self, request: JobRequest, chunk_size: int = 50) -> JobView:
        fanout = Fanout(JobsSettings(chunk_size=chunk_size, window=4))
        view, created = submit(self.store, fanout, "tenant-a", request)
        assert created
        return view

    def wait_done(self, job_id: str, timeout: float = 40.0) -> JobView:
        def done() -> JobView | None:
            view = self.store.get(job_id)
            return view if view is not None and view.finished_at is not None else None

        try:
            found: JobView = wait_for(done, timeout, f"job {job_id} to finish")
        except AssertionError:
            raise AssertionError(f"{self.store.get(job_id)}\n{self.log()}") from None
        return found

    def registrants(self, meeting: int, prefix: str) -> list[dict[str, Any]]:
        with self.sandbox.state.lock:
            found = self.sandbox.state.store.meeting_registrants.get(meeting, {})
            return [r for r in found.values() if r["email"].startswith(prefix)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("bulk")
    with (
        RedisServer(tmp / "redis", persist=True) as server,
        SandboxServer(SandboxConfig(seed=11, rate_limits=False)) as sandbox,
    ):
        # Every write reaches the AOF before Redis answers: a kill -9 loses nothing.
        redis.Redis.from_url(server.url).config_set("appendfsync", "always")
        env = worker_env(tmp, sandbox, server.url)
        connections = tmp / "bulk-connections.json"
        base = {"account_id": "sandbox-account", "client_id": "sandbox-client"}
        connections.write_text(
            json.dumps(
                [
                    {**base, "name": "default", "client_secret": "sandbox-secret",
                     "rate_limits": {"light": 2000, "medium": 2000, "heavy": 2000}},
                    {**base, "name": "slow", "client_secret": "sandbox-secret",
                     "rate_limits": {"medium": SLOW_MEDIUM}},
                ]
            )
        )  # fmt: skip
        env.update(
            ZOOMQ_CONNECTIONS_FILE=str(connections),
            ZOOMQ_VISIBILITY_TIMEOUT="6",
            ZOOMQ_TASK_TIME_LIMIT="5",
            ZOOMQ_TASK_SOFT_TIME_LIMIT="4",
            ZOOMQ_STEP_LEASE="3",
            ZOOMQ_BULK_CONCURRENCY="8",
        )
        argv = [
            sys.executable, "-m", "celery", "-A", "worker.app", "worker", "--pool", "threads",
            "-c", "4", "-Q", "events,bulk", "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        found = Stack(tmp, server, sandbox, env, argv, None)
        found.start_worker()
        try:
            yield found
        finally:
            stop_worker(found.worker)


def _register(meeting: int, prefix: str, n: int) -> list[dict[str, Any]]:
    return [
        {"meetingId": meeting, "email": f"{prefix}{i}@example.com", "firstName": "B"}
        for i in range(n)
    ]


def added(stack: Stack, path: str) -> int:
    """POSTs to ``path`` the sandbox answered 201 (created)."""
    records = list(stack.sandbox.state.requests)
    return sum(1 for r in records if r.method == "POST" and r.path == path and r.status == 201)


def test_kill_9_mid_job_still_registers_each_person_exactly_once(stack: Stack) -> None:
    """2,000 registrants; the worker is SIGKILLed half-way and another takes over: every
    item succeeds, the sandbox holds exactly the 2,000, each POSTed once."""
    meeting = stack.sandbox.state.seeded.registration_meeting_id
    path = f"/v2/meetings/{meeting}/registrants"
    before = added(stack, path)
    job = stack.submit(
        JobRequest(action="addMeetingRegistrant", items=_register(meeting, "k", ITEMS), batch=False)
    )
    wait_for(
        lambda: stack.store.get(job.job_id).counts[ItemState.SUCCEEDED] >= ITEMS // 4,  # type: ignore[union-attr]
        30,
        "a quarter of the items",
    )
    stack.worker.send_signal(signal.SIGKILL)
    stack.worker.wait(10)
    at_kill = stack.store.get(job.job_id)
    assert at_kill is not None
    assert at_kill.counts[ItemState.SUCCEEDED] < ITEMS
    stack.start_worker()
    view = stack.wait_done(job.job_id, 60)
    assert view.status is JobStatus.COMPLETED
    assert view.counts[ItemState.SUCCEEDED] == ITEMS
    emails = [r["email"] for r in stack.registrants(meeting, "k")]
    assert len(emails) == ITEMS
    assert len(set(emails)) == ITEMS
    # A POST the kill cut off before its body arrived (the sandbox logs it as a 500, and
    # created nothing) may be sent again; each person was *added* by exactly one POST.
    assert added(stack, path) - before == ITEMS


def test_items_zoom_refuses_fail_with_zoom_code_and_the_rest_succeed(stack: Stack) -> None:
    """5 % of the items name a meeting that does not exist: those fail with Zoom's 3001."""
    meeting = stack.sandbox.state.seeded.registration_meeting_id
    items = _register(meeting, "u", 400)
    unknown = set(range(0, 400, 20))
    for i in unknown:
        items[i]["meetingId"] = 990_000_000 + i
    job = stack.submit(JobRequest(action="addMeetingRegistrant", items=items))
    view = stack.wait_done(job.job_id)
    assert view.counts[ItemState.FAILED] == len(unknown)
    assert view.counts[ItemState.SUCCEEDED] == 400 - len(unknown)
    failed, _ = stack.store.items(job.job_id, ItemState.FAILED, 0, 100)
    assert {r.index for r in failed} == unknown
    assert {(r.error.status, r.error.code) for r in failed if r.error} == {(404, 3001)}
    assert all("Meeting does not exist" in (r.error.message if r.error else "") for r in failed)
    assert len(stack.registrants(meeting, "u")) == 400 - len(unknown)


def test_cancel_stops_new_items_within_a_second(stack: Stack) -> None:
    """A job running at 40/s is cancelled: a second later Zoom sees no more of its calls."""
    meeting = stack.sandbox.state.seeded.registration_meeting_id
    path = f"/v2/meetings/{meeting}/registrants"
    items = [{"meetingId": meeting, "status": "approved", "maxItems": 1}] * 2000
    before = stack.sandbox.state.count("GET", path)
    job = stack.submit(JobRequest(action="listMeetingRegistrants", connection="slow", items=items))
    wait_for(lambda: stack.sandbox.state.count("GET", path) - before >= 40, 20, "the job to run")
    fanout = Fanout(JobsSettings())
    cancelled = cancel(stack.store, fanout, job.job_id)
    assert cancelled is not None
    assert cancelled.status is JobStatus.CANCELLED
    time.sleep(1.0)
    settled = stack.sandbox.state.count("GET", path)
    time.sleep(1.5)
    assert stack.sandbox.state.count("GET", path) == settled
    view = stack.wait_done(job.job_id, 10)
    assert view.status is JobStatus.CANCELLED
    assert view.counts[ItemState.CANCELLED] > 1500
    assert view.counts[ItemState.SUCCEEDED] >= 40
    assert view.counts[ItemState.QUEUED] == view.counts[ItemState.RUNNING] == 0


def test_redis_killed_and_restarted_mid_job_loses_nothing(stack: Stack) -> None:
    """Redis is SIGKILLed mid-job and started again from its AOF: the job completes with
    every registrant, none twice."""
    meeting = stack.sandbox.state.seeded.registration_meeting_id
    job = stack.submit(
        JobRequest(action="addMeetingRegistrant", items=_register(meeting, "r", 1000), batch=False)
    )
    wait_for(
        lambda: stack.store.get(job.job_id).counts[ItemState.SUCCEEDED] >= 200,  # type: ignore[union-attr]
        30,
        "a fifth of the items",
    )
    stack.redis_server.kill()
    time.sleep(0.5)
    stack.redis_server.start()
    stack.redis.config_set("appendfsync", "always")
    view = stack.wait_done(job.job_id, 60)
    assert view.counts[ItemState.SUCCEEDED] == 1000
    emails = [r["email"] for r in stack.registrants(meeting, "r")]
    assert len(emails) == len(set(emails)) == 1000


def test_the_worker_outlives_redis_going_away_again_and_again(stack: Stack) -> None:
    """Redis is SIGKILLed three times while chunks are running and acknowledging: the same
    worker process reconnects each time (kombu's closed-channel restore used to end it as
    an "unrecoverable" AttributeError, see worker/broker.py) and finishes the job."""
    meeting = stack.sandbox.state.seeded.registration_meeting_id
    items = _register(meeting, "again", 1500)
    job = stack.submit(JobRequest(action="addMeetingRegistrant", items=items, batch=False))
    process = stack.worker
    for round_ in (1, 2, 3):
        wait_for(
            lambda r=round_: stack.store.get(job.job_id).counts[ItemState.SUCCEEDED] >= 200 * r,  # type: ignore[union-attr, misc]
            30,
            f"{200 * round_} items done",
        )
        stack.redis_server.kill()
        time.sleep(0.3)
        stack.redis_server.start()
        stack.redis.config_set("appendfsync", "always")
    view = stack.wait_done(job.job_id, 90)
    assert process.poll() is None, stack.log()
    assert "Unrecoverable error" not in stack.log()
    assert view.counts[ItemState.SUCCEEDED] == 1500
    emails = [r["email"] for r in stack.registrants(meeting, "again")]
    assert len(emails) == len(set(emails)) == 1500
