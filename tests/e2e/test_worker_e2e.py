"""The worker end to end: a real Celery worker process, the sandbox Zoom, a real Redis."""

from __future__ import annotations

import socket
import sys
import time
import uuid

import pytest
from click.testing import CliRunner

from tests.e2e.conftest import (
    DOWNLOAD_TOKEN,
    E2E,
    PASSWORD,
    registration_event,
    start_worker,
    stop_worker,
    wait_for,
    worker_env,
)
from zoomq.cli.worker import dlq_group
from zoomq.runtime.dlq import DeadLetterStore
from zoomq.sandbox.ratelimits import DAILY_MESSAGE

pytestmark = pytest.mark.e2e


def email() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}@example.com"


def test_a_rule_calls_zoom_once_however_often_the_event_arrives(e2e: E2E) -> None:
    """A registration event runs the rule's addMeetingRegistrant; redeliveries add nothing."""
    who = email()
    posts_before = e2e.posts()
    event = registration_event(who)
    event_task, meta = e2e.send_event(event, correlation_id="corr-once")
    run_key = f"{meta['dedup_key']}:copy-registrant"
    wait_for(lambda: e2e.registrants(who), what="the registrant in the sandbox")
    wait_for(lambda: e2e.log_events("automation.done", task_id=run_key), what="run done")
    assert e2e.posts() == posts_before + 1
    (registrant,) = e2e.registrants(who)
    assert registrant["last_name"] == "Copied from 7001"

    # Zoom's retry of the same delivery: the receiver knows it and enqueues nothing.
    e2e.send_event(event, correlation_id="corr-once", expect="duplicate")
    # The same event enqueued again all the same (the receiver's marker expired, or the
    # broker redelivers the event task): the worker knows its run was dispatched.
    e2e.forget_delivery(meta["dedup_key"])
    assert e2e.send_event(event, correlation_id="corr-once")[0] == event_task
    wait_for(
        lambda: e2e.log_events("automation.already_dispatched", run_key=run_key),
        what="the second delivery to be skipped",
    )
    # Even the run's own message delivered again: its step is recorded as done.
    e2e.app.send_task(
        "zoomq.automations.run",
        args=[event, "copy-registrant"],
        kwargs={"meta": {**meta, "idempotency_key": run_key}},
        task_id=run_key,
    )
    wait_for(
        lambda: len(e2e.log_events("automation.done", task_id=run_key)) == 2,
        what="the redelivered run",
    )
    assert e2e.log_events("automation.step_skipped", task_id=run_key)
    assert e2e.posts() == posts_before + 1
    assert len(e2e.registrants(who)) == 1

    # Every line about this event carries its correlation id.
    lines = [line for line in e2e.logs() if line.get("task_id") in {event_task, run_key}]
    assert len(lines) >= 6
    assert {line.get("correlation_id") for line in lines} == {"corr-once"}


def test_events_that_fail_the_condition_run_nothing(e2e: E2E) -> None:
    """The rule's ``when`` keeps other topics out."""
    who = email()
    task_id, _ = e2e.send_event(registration_event(who, topic="Other"), correlation_id="c-x")
    wait_for(lambda: e2e.log_events("event.dispatched", task_id=task_id), what="dispatch")
    assert e2e.log_events("event.dispatched", task_id=task_id)[0]["sent"] == []
    assert e2e.registrants(who) == []


def test_a_python_automation_runs_each_step_once(e2e: E2E) -> None:
    """An @automation module creates one meeting per event, even when the event repeats."""
    owner = e2e.sandbox.state.seeded.owner_user_id
    topic_email = email()
    event = {
        "event": "user.created",
        "event_ts": int(time.time() * 1000),
        "payload": {"account_id": "sandbox-account", "object": {"id": owner, "email": topic_email}},
    }

    def welcome_meetings() -> int:
        with e2e.sandbox.state.lock:
            meetings = list(e2e.sandbox.state.store.meetings.values())
        return sum(1 for m in meetings if m.get("topic") == f"Welcome {topic_email}")

    _, meta = e2e.send_event(event, correlation_id="corr-py")
    run_key = f"{meta['dedup_key']}:welcome-meeting"
    wait_for(lambda: e2e.log_events("automation.done", task_id=run_key), what="the run")
    assert welcome_meetings() == 1
    e2e.app.send_task(
        "zoomq.automations.run",
        args=[event, "welcome-meeting"],
        kwargs={"meta": {**meta, "idempotency_key": run_key}},
        task_id=run_key,
    )
    wait_for(lambda: len(e2e.log_events("automation.done", task_id=run_key)) == 2, what="rerun")
    (again,) = e2e.log_events("automation.done", task_id=run_key)[1:]
    assert again["steps"] == [
        {"action": "createMeeting", "replayed": True},
        {"action": "getMeeting", "replayed": False},
    ]
    assert welcome_meetings() == 1


def test_a_burst_of_429s_ends_with_every_action_done(e2e: E2E) -> None:
    """Injected 429s are retried by the queue; zoomq's limiter never trips the sandbox's."""
    state = e2e.sandbox.state
    qps_rejected_before = state.limiter.rejected["qps"]
    fired_before = state.faults.fired
    path = f"/v2/meetings/{e2e.registration_meeting_id}/registrants"
    state.faults.inject("POST", path, 429, count=8, retry_after="1")
    people = [email() for _ in range(6)]
    for n, who in enumerate(people):
        e2e.send_event(registration_event(who), correlation_id=f"burst-{n}")
    wait_for(
        lambda: all(e2e.registrants(who) for who in people),
        timeout=45,
        what="all six registrants",
    )
    assert state.faults.fired - fired_before == 8
    assert state.limiter.rejected["qps"] == qps_rejected_before == 0
    # Some retries are the sandbox's injected 429s (code 429), not only zoomq's own limiter.
    retried = [line["error"] for line in e2e.log_events("task.retry", reason="rate_limited")]
    assert any(error.get("code") == 429 for error in retried)
    assert all(len(e2e.registrants(who)) == 1 for who in people)
    assert DeadLetterStore(e2e.redis).count() == 0


def test_a_daily_limit_parks_the_task_until_reset(e2e: E2E) -> None:
    """A daily 429 parks the run in Redis; the worker's scheduler completes it after reset."""
    state = e2e.sandbox.state
    path = f"/v2/meetings/{e2e.registration_meeting_id}/registrants"
    body = {"code": 429, "message": DAILY_MESSAGE}
    state.faults.inject("POST", path, 429, count=1, retry_after="3", body=body)
    who = email()
    injected_at = time.monotonic()
    _, meta = e2e.send_event(registration_event(who), correlation_id="corr-daily")
    run_key = f"{meta['dedup_key']}:copy-registrant"
    wait_for(lambda: e2e.redis.zcard("zoomq:parked") == 1, what="the parked task")
    assert e2e.registrants(who) == []
    wait_for(lambda: e2e.registrants(who), timeout=15, what="the registrant after reset")
    assert time.monotonic() - injected_at >= 2.9
    (parked,) = e2e.log_events("task.parked", task_id=run_key)
    assert parked["reason"] == "daily_limit"
    assert e2e.redis.zcard("zoomq:parked") == 0
    assert e2e.redis.zcard("zoomq:parked:moving") == 0


def test_a_failing_action_is_dead_lettered_and_replayed(e2e: E2E) -> None:
    """500s until retries run out land in the DLQ; `zoomq dlq replay` completes it later."""
    state = e2e.sandbox.state
    path = f"/v2/meetings/{e2e.registration_meeting_id}/registrants"
    fault = state.faults.inject("POST", path, 500)
    who = email()
    _, meta = e2e.send_event(registration_event(who), correlation_id="corr-dead")
    run_key = f"{meta['dedup_key']}:copy-registrant"
    store = DeadLetterStore(e2e.redis)
    entry = wait_for(lambda: store.get(run_key), what="the dead letter")
    assert entry.message.name == "zoomq.automations.run"
    assert entry.error["type"] == "ServerError"
    assert entry.error["status"] == 500
    assert entry.attempts == 3  # ZOOMQ_MAX_RETRIES=2, plus the first
    assert entry.connection == "default"
    assert fault.hits == 3
    assert e2e.registrants(who) == []

    state.faults.clear()
    result = CliRunner().invoke(dlq_group, ["replay", run_key], obj=e2e.settings)
    assert result.exit_code == 0, result.output
    assert f"replayed {run_key}" in result.output
    wait_for(lambda: e2e.registrants(who), what="the replayed registrant")
    assert store.count() == 0


def test_never_retry_errors_are_dead_lettered_at_once(e2e: E2E) -> None:
    """A 404 is not retried: one request, straight to the dead letters."""
    event = {
        "event": "meeting.ended",
        "event_ts": int(time.time() * 1000),
        "download_token": DOWNLOAD_TOKEN,
        "payload": {"object": {"id": 4242, "password": PASSWORD}},
    }
    _, meta = e2e.send_event(event, correlation_id="corr-404")
    run_key = f"{meta['dedup_key']}:leaky-lookup"
    entry = wait_for(lambda: DeadLetterStore(e2e.redis).get(run_key), what="the dead letter")
    assert entry.error["type"] == "NotFound"
    assert entry.attempts == 1
    assert e2e.sandbox.state.count("GET", "/v2/no-such-thing/4242") == 1
    DeadLetterStore(e2e.redis).remove(run_key)


def test_an_automation_bug_is_dead_lettered_with_its_url_token_redacted(e2e: E2E) -> None:
    """An httpx error quoting a download URL with its token fails at once; the log hides it."""
    event = {
        "event": "recording.completed",
        "event_ts": int(time.time() * 1000),
        "download_token": DOWNLOAD_TOKEN,
        "payload": {
            "object": {
                "id": 5150,
                "recording_files": [{"download_url": f"{e2e.sandbox.url}/v2/no-such/rec.mp4"}],
            }
        },
    }
    _, meta = e2e.send_event(event, correlation_id="corr-rec")
    run_key = f"{meta['dedup_key']}:fetch-recording"
    entry = wait_for(lambda: DeadLetterStore(e2e.redis).get(run_key), what="the dead letter")
    assert entry.error["type"] == "HTTPStatusError"
    assert DOWNLOAD_TOKEN not in entry.error["message"]
    assert entry.attempts == 1
    # The log line follows the store write: wait for it as for the entry.
    (line,) = wait_for(
        lambda: e2e.log_events("task.dead_lettered", task_id=run_key), what="the log line"
    )
    assert line["reason"] == "unexpected_error"
    assert "access_token=[redacted]" in line["error"]["message"]
    assert "access_token=[redacted]" in line["traceback"]
    DeadLetterStore(e2e.redis).remove(run_key)


def test_zoomq_worker_command_runs_action_tasks(
    e2e: E2E, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`zoomq worker` (the click command) starts a worker that runs zoomq.actions.* tasks."""
    e2e_dir = tmp_path_factory.mktemp("cmd")
    log_path = e2e_dir / "worker.log"
    env = worker_env(e2e_dir, e2e.sandbox, e2e.settings.redis_url)
    argv = [
        sys.executable, "-c",
        "from zoomq.cli.worker import worker_command; worker_command(prog_name='zoomq worker')",
        "--pool", "threads", "--concurrency", "2", "--queues", "bulk", "--loglevel", "INFO",
        "-n", "cmd@%h",
    ]  # fmt: skip
    process = start_worker(argv, env, log_path)
    try:
        owner = e2e.sandbox.state.seeded.owner_user_id
        e2e.app.send_task(
            "zoomq.actions.updateUser",
            args=[{"userId": owner, "jobTitle": "Automator"}],
            kwargs={"connection": "default", "meta": {"correlation_id": "corr-cmd"}},
            task_id="cmd-update-1",
            queue="bulk",
        )
        wait_for(lambda: '"action.done"' in log_path.read_text(), what="the action task")
    finally:
        stop_worker(process)
    with e2e.sandbox.state.lock:
        assert e2e.sandbox.state.store.users[owner]["job_title"] == "Automator"
    started = log_path.read_text()
    assert "zoomq worker: pool=threads concurrency=2 queues=bulk" in started
    # -n expands Celery's %h, as `celery worker -n` does: replicas get distinct names.
    assert f"node=cmd@{socket.gethostname()}" in started


def test_the_worker_log_never_shows_a_secret(e2e: E2E) -> None:
    """Download tokens, passwords, access tokens and the client secret never reach the log.

    Runs last, so the log also holds every other test's events, errors, tracebacks quoting
    download URLs, retries and dead letters; it sends one event of its own so that it does
    not depend on the others having run.
    """
    email = "redaction@example.com"
    e2e.send_event(registration_event(email), "corr-redaction")
    wait_for(lambda: e2e.registrants(email), 30, "the redaction test's registrant")
    text = e2e.log_path.read_text(errors="replace")
    assert e2e.log_events("event.received")
    assert "[redacted]" in text
    secrets = {DOWNLOAD_TOKEN, PASSWORD, "sandbox-secret", *e2e.sandbox.state.oauth.access}
    assert len(secrets) > 3  # the worker did get access tokens
    leaked = sorted(s for s in secrets if s in text)
    assert leaked == []
