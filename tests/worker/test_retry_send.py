"""A retry that cannot be sent puts the message back instead of dropping it."""

from __future__ import annotations

import pytest
from celery.exceptions import Reject

from worker.app import create_celery
from zoomq.errors import TransportError
from zoomq.redis_server import free_port
from zoomq.settings import Settings


def test_unsendable_retry_is_requeued_not_dropped() -> None:
    """With the broker gone, a transient error ends in Reject(requeue=True)."""
    app = create_celery(Settings(_env_file=None, redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    app.conf.task_publish_retry_policy = {"max_retries": 0}
    task = app.tasks["zoomq.actions.getUser"]
    task.push_request(
        id="t-1", retries=0, delivery_info={"routing_key": "actions"}, called_directly=False
    )
    try:
        with pytest.raises(Reject) as info:
            task.handle_error(TransportError("zoom unreachable"), ({"userId": "me"},), {})
    finally:
        task.pop_request()
        app.close()
    assert info.value.requeue is True


def test_a_long_rate_limit_wait_parked_again_and_again_still_spends_its_budget() -> None:
    """Waits longer than a countdown are parked; each one counts, so it ends in a dead
    letter after ZOOMQ_MAX_RATE_LIMIT_RETRIES instead of parking for ever."""
    from tasks.policy import GiveUp, Park
    from zoomq.errors import RateLimited
    from zoomq.settings import QueueSettings

    settings = Settings(
        _env_file=None,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        queue=QueueSettings(max_rate_limit_retries=5),
    )
    app = create_celery(settings)
    task = app.tasks["zoomq.actions.getUser"]
    args: tuple[object, ...] = ({"userId": "me"},)
    kwargs: dict[str, object] = {}
    retries = 0
    decisions = []
    try:
        for _ in range(20):
            task.push_request(
                id="t-1",
                retries=retries,
                delivery_info={"routing_key": "actions"},
                called_directly=False,
            )
            try:
                failure = task._failure(RateLimited("slow down", retry_after=4000.0), args, kwargs)
            finally:
                task.pop_request()
            decisions.append(failure.decision)
            if isinstance(failure.decision, GiveUp):
                break
            # What the parking lot sends again when the wait is over.
            args, kwargs = tuple(failure.message.args), dict(failure.message.kwargs)
            retries = failure.message.attempts
    finally:
        app.close()
    assert [type(d) for d in decisions] == [Park] * 5 + [GiveUp]


def test_a_dead_letter_keeps_keyword_arguments_by_name_so_they_are_redacted() -> None:
    """download_token sent as a keyword stays one in the stored message: the redacted
    views find it by name (made positional, it would be shown in the clear)."""
    from zoomq.errors import RecordingGone
    from zoomq.runtime.dlq import DeadLetter

    app = create_celery(Settings(_env_file=None, redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    task = app.tasks["zoomq.downloads.file"]
    secret = "TOKEN-" + "z" * 20
    kwargs = {"download_token": secret, "meta": {"correlation_id": "c-1"}}
    task.push_request(id="dl-1", retries=0, delivery_info={}, called_directly=False)
    try:
        failure = task._failure(RecordingGone("gone"), ({"file_id": "f"}, "default"), kwargs)
    finally:
        task.pop_request()
        app.close()
    assert failure.message.kwargs["download_token"] == secret
    entry = DeadLetter(
        id="dl-1",
        message=failure.message,
        connection="default",
        error={},
        attempts=1,
        first_at=0.0,
        last_at=0.0,
    )
    assert secret not in repr(entry.redacted())


def test_every_task_takes_the_meta_its_retries_are_sent_with(redis_url: str) -> None:
    """A retry or a park re-sends the task with ``meta`` (its budgets): a task that cannot
    take it fails Celery's argument check, and the message loops without backoff."""
    import inspect

    app = create_celery(Settings(_env_file=None, redis_url=redis_url))
    try:
        tasks = {name: t for name, t in app.tasks.items() if name.startswith("zoomq.")}
        assert "zoomq.jobs.run_chunk" in tasks
        assert "zoomq.jobs.callback" in tasks
        refused = []
        for name, task in sorted(tasks.items()):
            _, kwargs = task._with_meta((), {}, {"retries": {"transient": 1}})
            try:
                inspect.signature(task.run).bind_partial(**kwargs)
            except TypeError:
                refused.append(name)
    finally:
        app.close()
    assert refused == []
