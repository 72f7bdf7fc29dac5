"""The task ledger over real processes: a backlog older than the visibility timeout runs
once per task, and a message lost between kombu's pop and its record runs exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from celery import Celery

from tests.e2e.conftest import fast_worker_env, start_worker, stop_worker, wait_for
from worker.app import create_celery
from zoomq.redis_server import RedisServer
from zoomq.runtime.ledger import Ledger
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import Settings

pytestmark = pytest.mark.e2e

TASKS = 50
VISIBILITY = 2


@dataclass
class Stack:
    """A redis-server, the sandbox, and a worker that sweeps the ledger but takes no actions."""

    redis: redis.Redis
    sandbox: SandboxServer
    app: Celery
    env: dict[str, str]
    tmp: Path
    sweeper_log: Path

    def worker(self, name: str, queues: str) -> subprocess.Popen[bytes]:
        argv = [
            sys.executable, "-m", "celery", "-A", "worker.app", "worker", "--pool", "threads",
            "-c", "8", "-Q", queues, "--loglevel", "INFO", "-n", f"{name}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        return start_worker(argv, self.env, self.tmp / f"{name}.log")

    def sweeps(self, **match: object) -> list[dict[str, object]]:
        found = []
        for raw in self.sweeper_log.read_text(errors="replace").splitlines():
            if not raw.startswith("{"):
                continue
            line = json.loads(raw)
            if line.get("event") == "ledger.swept" and all(
                line.get(k) == v for k, v in match.items()
            ):
                found.append(line)
        return found

    def gets(self, path: str) -> int:
        return self.sandbox.state.count("GET", path)

    def drained(self) -> bool:
        """Nothing queued, nothing unacknowledged, nothing in the ledger: no run can follow."""
        r = self.redis
        return not (r.llen("actions") or r.hlen("unacked") or Ledger(r).count())


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with (
        RedisServer(tmp_path / "redis") as server,
        SandboxServer(SandboxConfig(seed=7, rate_limits=False)) as sandbox,
    ):
        env = fast_worker_env(
            tmp_path, sandbox, server.url,
            ZOOMQ_VISIBILITY_TIMEOUT=str(VISIBILITY), ZOOMQ_TASK_TIME_LIMIT="1",
            ZOOMQ_TASK_SOFT_TIME_LIMIT="0", ZOOMQ_SCHEDULER_INTERVAL="0.2",
        )  # fmt: skip
        client = redis.Redis.from_url(server.url)
        app = create_celery(Settings(_env_file=None, redis_url=server.url))
        stack = Stack(client, sandbox, app, env, tmp_path, tmp_path / "sweeper.log")
        # Its scheduler sweeps the ledger of every queue; it consumes only "bulk".
        sweeper = stack.worker("sweeper", "bulk")
        try:
            yield stack
        finally:
            stop_worker(sweeper)
            app.close()
            client.close()


def test_a_backlog_older_than_the_visibility_timeout_runs_once_per_task(stack: Stack) -> None:
    """50 getUser tasks wait through several sweeps past the timeout: 50 GETs, not 100."""
    for i in range(TASKS):
        stack.app.send_task("zoomq.actions.getUser", args=[{"userId": "me"}], task_id=f"b-{i}")
    # Each record found still queued by three sweeps, a visibility timeout apart: the
    # backlog waited well past the timeout (records sent in one go may be swept in parts).
    wait_for(
        lambda: sum(int(str(s["found"])) for s in stack.sweeps()) >= 3 * TASKS,
        15 * VISIBILITY,
        "three sweeps of the waiting backlog",
    )
    assert stack.redis.llen("actions") == TASKS
    assert stack.sweeps(resent=0) == stack.sweeps()
    consumer = stack.worker("consumer", "actions")
    try:
        wait_for(lambda: stack.gets("/v2/users/me") >= TASKS and stack.drained(), 60, "the backlog")
    finally:
        stop_worker(consumer)
    runs = stack.gets("/v2/users/me")
    found = sum(int(str(s["found"])) for s in stack.sweeps())
    print(f"\n{TASKS} tasks, found queued {found} times by the sweeps: {runs} GETs")
    assert runs == TASKS


def test_a_message_lost_between_pop_and_record_is_resent_and_runs_once(stack: Stack) -> None:
    """Popped from its list and never recorded as unacked: the ledger sends it again, once."""
    user = stack.sandbox.state.seeded.owner_user_id
    stack.app.send_task("zoomq.actions.getUser", args=[{"userId": user}], task_id="lost-1")
    # What a worker killed between BRPOP and kombu's unacked record leaves behind.
    assert stack.redis.rpop("actions") is not None
    assert stack.redis.hlen("unacked") == 0
    wait_for(lambda: stack.redis.llen("actions") == 1, 10 * VISIBILITY, "the lost message resent")
    assert len(stack.sweeps(resent=1)) == 1
    consumer = stack.worker("consumer", "actions")
    try:
        wait_for(lambda: stack.gets(f"/v2/users/{user}") >= 1 and stack.drained(), 30, "the run")
    finally:
        stop_worker(consumer)
    assert stack.gets(f"/v2/users/{user}") == 1
