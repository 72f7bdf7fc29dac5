"""Two tenants, three Zoom accounts, four jobs at once, one worker process: every account
stays within its budget (the sandbox counts its 429s) and every job progresses."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.e2e.conftest import start_worker, stop_worker, wait_for, worker_env
from tests.sandbox_settings import account_connections
from zoomq.jobs.models import ItemState, JobRequest
from zoomq.jobs.submit import Fanout, submit
from zoomq.redis_server import RedisServer
from zoomq.runtime.jobs import JobStore
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import JobsSettings, Plan

pytestmark = pytest.mark.e2e

#: Zoom's Business Light budget is 80/s; zoomq is told 95 % of it.
CLIENT_LIGHT = 76.0
ITEMS = 240


def test_jobs_of_two_tenants_on_three_accounts_share_fairly_within_budgets(tmp_path: Path) -> None:
    with (
        RedisServer(tmp_path / "redis") as server,
        SandboxServer(SandboxConfig(seed=21, accounts=3, plan=Plan.BUSINESS)) as sandbox,
    ):
        connections = account_connections(sandbox)
        for entry in connections:
            entry["rate_limits"] = {"light": CLIENT_LIGHT}
        path = tmp_path / "accounts.json"
        path.write_text(json.dumps(connections))
        env = worker_env(tmp_path, sandbox, server.url)
        env.update(ZOOMQ_CONNECTIONS_FILE=str(path), ZOOMQ_BULK_CONCURRENCY="8")
        argv = [
            sys.executable, "-m", "celery", "-A", "worker.app", "worker", "--pool", "threads",
            "-c", "4", "-Q", "events,bulk", "--loglevel", "INFO", "-n", "fair@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        worker = start_worker(argv, env, tmp_path / "worker.log")
        try:
            store = JobStore(redis.Redis.from_url(server.url))
            fanout = Fanout(JobsSettings(chunk_size=20, window=4))
            plan = [
                ("tenant-a", "acct1"),
                ("tenant-a", "acct2"),
                ("tenant-b", "acct2"),
                ("tenant-b", "acct3"),
            ]
            for account in sandbox.state.accounts:
                account.reset_counters()
            started = time.monotonic()
            jobs = []
            for tenant, connection in plan:
                items = [{"userId": "me"}] * ITEMS
                view, _ = submit(
                    store,
                    fanout,
                    tenant,
                    JobRequest(action="getUser", connection=connection, items=items),
                )
                jobs.append(view.job_id)

            def succeeded(job_id: str) -> int:
                view = store.get(job_id)
                return 0 if view is None else view.counts[ItemState.SUCCEEDED]

            # Early on, every job has items done: none waits for another to finish.
            wait_for(lambda: all(succeeded(j) >= 20 for j in jobs), 10, "every job to progress")
            early = [succeeded(j) for j in jobs]
            assert all(n < ITEMS for n in early), early

            def finished() -> bool:
                views = [store.get(j) for j in jobs]
                return all(v is not None and v.finished_at is not None for v in views)

            wait_for(finished, 30, "all four jobs")
            elapsed = time.monotonic() - started
            for job_id in jobs:
                assert succeeded(job_id) == ITEMS
            for account in sandbox.state.accounts:
                summary = account.summary()
                assert summary["requests_by_status"].get("429", 0) == 0, summary
                assert summary["rate_limited"] == {}, summary
            # acct2 carried two jobs at its budget: ~2 * ITEMS / CLIENT_LIGHT seconds.
            assert elapsed >= 2 * ITEMS / 80.0
        finally:
            stop_worker(worker)
