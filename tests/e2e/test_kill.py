"""kill -9 of a worker in the middle of 500 actions: every action completes, none twice
except where the kill lands between Zoom's reply and zoomq's record of it."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest
import redis

from tests.e2e.conftest import fast_worker_env, start_worker, stop_worker, wait_for
from worker.app import create_celery
from zoomq.redis_server import RedisServer
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import Settings

pytestmark = pytest.mark.e2e

ACTIONS = 500
CONCURRENCY = 16


def test_kill_minus_9_loses_nothing(tmp_path: Path) -> None:
    """After SIGKILL mid-run, a new worker finishes all 500; repeats stay within one batch."""
    with (
        RedisServer(tmp_path / "redis") as redis_server,
        SandboxServer(SandboxConfig(seed=5, rate_limits=False)) as sandbox,
    ):
        env = fast_worker_env(
            tmp_path, sandbox, redis_server.url,
            ZOOMQ_VISIBILITY_TIMEOUT="6", ZOOMQ_TASK_TIME_LIMIT="5",
            ZOOMQ_TASK_SOFT_TIME_LIMIT="4", ZOOMQ_STEP_LEASE="3", ZOOMQ_LOG_FORMAT="json",
        )  # fmt: skip
        meeting = sandbox.state.seeded.registration_meeting_id
        path = f"/v2/meetings/{meeting}/registrants"
        app = create_celery(Settings(_env_file=None, redis_url=redis_server.url))
        for i in range(ACTIONS):
            app.send_task(
                "zoomq.actions.addMeetingRegistrant",
                args=[{"meetingId": meeting, "email": f"kill{i}@example.com", "firstName": "K"}],
                task_id=f"kill-{i}",
            )
        argv = [
            sys.executable, "-m", "celery", "-A", "worker.app", "worker", "--pool", "threads",
            "-c", str(CONCURRENCY), "-Q", "actions", "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        first = start_worker([*argv, "-n", "first@%h"], env, tmp_path / "first.log")
        wait_for(lambda: sandbox.state.count("POST", path) >= 150, 60, "150 registrants")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        posted_at_kill = sandbox.state.count("POST", path)
        second = start_worker([*argv, "-n", "second@%h"], env, tmp_path / "second.log")
        try:

            def all_registered() -> bool:
                with sandbox.state.lock:
                    found = sandbox.state.store.meeting_registrants.get(meeting, {})
                    emails = {r["email"] for r in found.values()}
                return all(f"kill{i}@example.com" in emails for i in range(ACTIONS))

            try:
                wait_for(all_registered, 90, "all 500 registrants")
            except AssertionError:
                r = redis.Redis.from_url(redis_server.url)
                state = {
                    "actions": r.llen("actions"),
                    "unacked": r.hlen("unacked"),
                    "unacked_index": r.zcard("unacked_index"),
                    "mutex": r.get("unacked_mutex"),
                    "posts": sandbox.state.count("POST", path),
                    "parked": r.zcard("zoomq:parked"),
                    "dead": r.zcard("zoomq:dlq:index"),
                    "keys": sorted(k.decode() for k in r.keys("*"))[:30],
                }
                tail = (tmp_path / "second.log").read_text(errors="replace")[-4000:]
                raise AssertionError(f"{state}\n{tail}") from None
        finally:
            stop_worker(second)
        posts = sandbox.state.count("POST", path)
        repeats = posts - ACTIONS
        print(f"\nkill -9 after {posted_at_kill} POSTs: {posts} POSTs for {ACTIONS} actions, "
              f"{repeats} repeated side effects")  # fmt: skip
        # Only a task whose POST Zoom answered but whose record the kill prevented may repeat:
        # at most one per worker slot.
        assert 0 <= repeats <= CONCURRENCY
        app.close()
