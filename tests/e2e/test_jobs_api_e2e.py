"""The ``/v1`` API, its client, its CLI and the completion callback over real processes: a
``zoomq receiver`` and a Celery worker on ``bulk``, the sandbox and a redis-server; the
callback lands on a loopback listener and is verified with the standardwebhooks package."""

from __future__ import annotations

import base64
import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from standardwebhooks import Webhook

from tests.client.listener import Listener
from tests.e2e.conftest import (
    REPO,
    SANDBOX_SCALE,
    start_receiver,
    start_worker,
    stop_worker,
    wait_for,
    worker_env,
)
from zoomq.cli import cli
from zoomq.cli.jobs import jobs_group
from zoomq.errors import InvalidItems, NotFound, PermissionDenied, Unauthorized
from zoomq.jobs.client import Client
from zoomq.jobs.models import ItemState, JobStatus
from zoomq.redis_server import RedisServer
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer

pytestmark = pytest.mark.e2e

cli.add_command(jobs_group)  # as ``zoomq.cli.main`` does

KEY_A = "e2e-tenant-a-" + "a" * 32
KEY_B = "e2e-tenant-b-" + "b" * 32
SECRET = "whsec_" + base64.b64encode(b"e2e callback secret, 32 bytes..").decode()


@dataclass
class JobsStack:
    url: str
    listener: Listener
    receiver_log: Path
    worker_log: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobsStack]:
    """Receiver (keys of two tenants, callbacks to the listener) and a worker on ``bulk``."""
    e2e_dir = tmp_path_factory.mktemp("jobs-api")
    config = SandboxConfig(seed=23, rate_scale=SANDBOX_SCALE)
    with (
        RedisServer(e2e_dir / "redis") as server,
        SandboxServer(config) as sandbox,
        Listener() as listener,
    ):
        jobs_env = {
            "ZOOMQ_API_KEYS": json.dumps(
                [
                    {"name": "tenant-a", "key": KEY_A},
                    {"name": "tenant-b", "key": KEY_B, "connections": []},  # none: 403
                ]
            ),
            "ZOOMQ_JOB_CALLBACK_HOSTS": listener.url,
            "ZOOMQ_JOB_CALLBACK_SECRET": SECRET,
        }
        env = {**worker_env(e2e_dir, sandbox, server.url), **jobs_env}
        worker_log = e2e_dir / "worker.log"
        argv = [
            sys.executable, "-m", "celery", "-A", "worker.app", "worker",
            "--pool", "threads", "-c", "4", "-Q", "bulk",
            "--loglevel", "INFO", "-n", "e2e-bulk@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        worker = start_worker(argv, env, worker_log)
        receiver_log = e2e_dir / "receiver.log"
        try:
            receiver, url = start_receiver(
                e2e_dir / "receiver", sandbox, server.url, receiver_log, **jobs_env
            )
        except BaseException:
            stop_worker(worker)
            raise
        try:
            yield JobsStack(url, listener, receiver_log, worker_log, env)
        finally:
            stop_worker(receiver)
            stop_worker(worker)
    for log in (receiver_log, worker_log):
        text = log.read_text(errors="replace")
        assert KEY_A not in text
        assert KEY_B not in text


def test_submit_status_results_over_http(stack: JobsStack) -> None:
    """The client against the receiver process: the job stored, readable, its items listed."""
    items = [{"userId": f"user{i}@example.com"} for i in range(25)]
    with Client(stack.url, KEY_A) as jobs:
        accepted = jobs.submit("getUser", items, idempotency_key="e2e-1")
        assert accepted.items == 25
        again = jobs.submit("getUser", iter(items), idempotency_key="e2e-1")  # as NDJSON
        assert again.job_id == accepted.job_id
        job = jobs.get(accepted.job_id)
        assert job.items == 25
        assert sum(job.counts.values()) == 25
        results = list(jobs.iter_results(accepted.job_id))
        assert [r.index for r in results] == list(range(25))
        assert [r.input for r in results] == items
        page = jobs.items(accepted.job_id, limit=10)
        assert [r.index for r in page.items] == list(range(10))
        assert accepted.job_id in [j.job_id for j in jobs.list_jobs().jobs]
        with pytest.raises(InvalidItems) as caught:
            jobs.submit("getUser", [{"userId": "ok"}, {"userID": "typo"}])
        named = {(e["index"], e["field"]) for e in caught.value.errors}
        assert named == {(1, "userId"), (1, "userID")}  # missing, and unknown
        jobs.cancel(accepted.job_id)  # the rest of the budget is the other tests'

    with Client(stack.url, KEY_B) as other:
        with pytest.raises(NotFound):
            other.get(accepted.job_id)
        with pytest.raises(NotFound):
            list(other.iter_results(accepted.job_id))
        with pytest.raises(PermissionDenied):
            other.submit("getUser", items)
        assert other.list_jobs().jobs == []
    with Client(stack.url, "w" * 45) as stranger, pytest.raises(Unauthorized):
        stranger.get(accepted.job_id)


def test_cancel_sends_the_signed_callback(stack: JobsStack) -> None:
    """A cancelled job is finished: the worker POSTs its callback to the listener, signed."""
    before = len(stack.listener.seen)
    with Client(stack.url, KEY_A) as jobs:
        accepted = jobs.submit(
            "getUser",
            [{"userId": "me"}] * 30,
            callback_url=stack.listener.url + "/zoomq/done",
        )
        cancelled = jobs.cancel(accepted.job_id)
    assert cancelled.status is JobStatus.CANCELLED
    arrived = wait_for(
        lambda: [s for s in stack.listener.seen[before:] if s.path == "/zoomq/done"],
        30,
        "the completion callback",
    )
    [seen] = arrived
    payload = Webhook(SECRET).verify(seen.body, seen.headers)
    assert payload["type"] == "job.completed"
    assert payload["data"]["job_id"] == accepted.job_id
    assert payload["data"]["status"] == "cancelled"
    assert payload["data"]["counts"][ItemState.CANCELLED] >= 20  # 2 getUser/s: few ran
    assert sum(payload["data"]["counts"].values()) == 30


def test_a_job_runs_to_completion_with_its_callback(stack: JobsStack) -> None:
    """Items run at the sandbox; one Zoom refuses fails with Zoom's code; the callback says
    completed; the failed item is listed by ``state=failed``."""
    before = len(stack.listener.seen)
    items = [{"userId": "me"}, {"userId": "nobody@example.com"}, {"userId": "me"}]
    with Client(stack.url, KEY_A) as jobs:
        accepted = jobs.submit("getUser", items, callback_url=stack.listener.url + "/finished")
        done = jobs.wait(accepted.job_id, timeout=30, poll=0.2)
        failed = jobs.items(accepted.job_id, state="failed")
        results = list(jobs.iter_results(accepted.job_id))
    assert done.status is JobStatus.COMPLETED
    assert (done.counts[ItemState.SUCCEEDED], done.counts[ItemState.FAILED]) == (2, 1)
    assert [r.index for r in failed.items] == [1]
    error = results[1].error
    assert error is not None
    assert (error.code, error.status) == (1001, 404)
    assert results[0].output is not None
    seen = wait_for(
        lambda: [s for s in stack.listener.seen[before:] if s.path == "/finished"],
        30,
        "the completion callback",
    )
    payload = Webhook(SECRET).verify(seen[0].body, seen[0].headers)
    assert payload["data"]["status"] == "completed"
    assert len(seen) == 1


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def _cli(stack: JobsStack, *args: str, key: str | None = KEY_A) -> Ran:
    """``zoomq jobs ...`` in this process (click's runner) against the receiver process."""
    env = {"ZOOMQ_API_KEY": key, "ZOOMQ_LOG_FORMAT": "json", "ZOOMQ_API_URL": None}
    result = CliRunner().invoke(cli, ["jobs", *args, "--url", stack.url], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    ran = Ran(result.exit_code, result.stdout, result.stderr)
    assert KEY_A not in ran.stdout + ran.stderr
    return ran


def test_cli_over_http(stack: JobsStack, tmp_path: Path) -> None:
    """submit a CSV (dotted columns nest, JSON cells parse), status, results, list, cancel."""
    rows = tmp_path / "meetings.csv"
    with rows.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["userId", "topic", "settings.host_video", "settings.audio", "agenda"])
        out.writerow(["me", "Launch", "true", "voip", ""])
        out.writerow(["me", "Demo", "false", "both", "Q&A"])
    run = _cli(stack, "submit", "--action", "createMeeting", "--items", str(rows))
    assert run.returncode == 0, run.stderr
    accepted = json.loads(run.stdout)
    assert accepted["items"] == 2
    status = json.loads(_cli(stack, "status", accepted["job_id"]).stdout)
    assert status["job_id"] == accepted["job_id"]
    results = _cli(stack, "results", accepted["job_id"])
    inputs = [json.loads(line)["input"] for line in results.stdout.splitlines()]
    assert inputs == [
        {"userId": "me", "topic": "Launch", "settings": {"host_video": True, "audio": "voip"}},
        {
            "userId": "me",
            "topic": "Demo",
            "settings": {"host_video": False, "audio": "both"},  # typed: free-form
            "agenda": "Q&A",
        },
    ]
    listed = json.loads(_cli(stack, "list").stdout)
    assert accepted["job_id"] in [j["job_id"] for j in listed["jobs"]]
    cancelled = json.loads(_cli(stack, "cancel", accepted["job_id"]).stdout)
    assert cancelled["status"] in ("cancelled", "completed")


def test_cli_wait_to_success(stack: JobsStack, tmp_path: Path) -> None:
    """--wait on a job whose items all succeed: exit 0, the completed job on stdout."""
    rows = tmp_path / "me.ndjson"
    rows.write_text('{"userId": "me"}\n\n{"userId": "me"}\n')
    run = _cli(stack, "submit", "-a", "getUser", "--items", str(rows), "--wait", "--timeout", "30")
    assert run.returncode == 0, run.stderr
    final = json.loads(run.stdout)
    assert final["status"] == "completed"
    assert final["counts"]["succeeded"] == 2


def test_cli_refusals_exit_2_naming_the_line(stack: JobsStack, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"userId": "a"}\n{"userId": \n')
    run = _cli(stack, "submit", "--action", "getUser", "--items", str(bad))
    assert run.returncode == 2
    assert f"{bad}:2: not JSON" in run.stderr
    invalid = tmp_path / "invalid.jsonl"
    invalid.write_text('{"userId": "a"}\n{"nope": 1}\n')
    run = _cli(stack, "submit", "--action", "getUser", "--items", str(invalid))
    assert run.returncode == 2
    assert "item 1: nope" in run.stderr
    run = _cli(stack, "status", "x", key=None)
    assert run.returncode == 2
    assert "ZOOMQ_API_KEY" in run.stderr
    run = _cli(stack, "status", "x", key="wrong" * 9)
    assert run.returncode == 1
    assert "401" in run.stderr
    run = _cli(stack, "status", "no-such-job")
    assert run.returncode == 1
    assert "404" in run.stderr


def test_cli_wait_reports_failures(stack: JobsStack, tmp_path: Path) -> None:
    """--wait on a job some of whose items Zoom refuses: the finished job on stdout, exit 1,
    no progress bar when stderr is not a terminal."""
    rows = tmp_path / "users.jsonl"
    rows.write_text('{"userId": "me"}\n{"userId": "ghost@example.com"}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOOM")}
    env["ZOOMQ_API_KEY"] = KEY_A
    argv = [
        sys.executable, "-m", "zoomq", "jobs", "submit", "--action", "getUser",
        "--items", str(rows), "--wait", "--timeout", "30", "--url", stack.url,
    ]  # fmt: skip
    run = subprocess.run(
        argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 1, run.stdout + run.stderr
    final = json.loads(run.stdout)
    assert final["status"] == "completed"
    assert (final["counts"]["succeeded"], final["counts"]["failed"]) == (1, 1)
    assert "━" not in run.stderr  # rich draws nothing when stderr is not a terminal
    assert KEY_A not in run.stdout + run.stderr


def test_results_into_a_closed_pipe_end_quietly(stack: JobsStack) -> None:
    """`zoomq jobs results ID | head -1`: exit 0 and no traceback when the reader leaves."""
    with Client(stack.url, KEY_A) as jobs:
        accepted = jobs.submit("getUser", ({"userId": f"u{i}"} for i in range(5000)))
        jobs.cancel(accepted.job_id)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOOM")}
    env["ZOOMQ_API_KEY"] = KEY_A
    reader = subprocess.Popen(
        [sys.executable, "-m", "zoomq", "jobs", "results", accepted.job_id, "--url", stack.url],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert reader.stdout is not None
    first = json.loads(reader.stdout.readline())
    reader.stdout.close()
    _, err = reader.communicate(timeout=30)
    assert first["index"] == 0
    assert reader.returncode == 0, err.decode()
    assert b"Traceback" not in err
