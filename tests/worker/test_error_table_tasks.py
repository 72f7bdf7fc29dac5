"""The error table's queue actions as a task meets them: a real Redis broker and the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from celery import Celery
from celery.exceptions import Retry

from tasks.base import ZoomqTask
from tasks.policy import LISTING_RESTARTS
from tasks.runtime import get_runtime
from worker.app import create_celery
from zoomq.errors import PageTokenExpired
from zoomq.runtime.dlq import DeadLetterStore
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import Settings

INVALID_TOKEN = {"code": 124, "message": "Invalid access token."}


@pytest.fixture
def app(settings: Settings) -> Iterator[Celery]:
    app = create_celery(settings)
    app.conf.task_publish_retry_policy = {"max_retries": 0}
    yield app
    get_runtime(app).close()
    app.close()


@contextmanager
def delivery(task: ZoomqTask, retries: int, task_id: str = "t-table") -> Iterator[None]:
    """One delivery of ``task`` from the actions queue: its request pushed, then popped."""
    task.push_request(
        id=task_id,
        retries=retries,
        delivery_info={"routing_key": "actions"},
        called_directly=False,
    )
    try:
        yield
    finally:
        task.pop_request()


def attempt(task: ZoomqTask, retries: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run one delivery of ``task`` the way the worker does (``__call__`` maps the errors)."""
    with delivery(task, retries):
        return task(*args, **kwargs)


def again(retry: Retry) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments a Celery retry was sent with."""
    assert retry.sig is not None
    return tuple(retry.sig.args), dict(retry.sig.kwargs)


def test_unauthorized_gets_one_attempt_on_fresh_credentials(
    sandbox: SandboxServer, app: Celery
) -> None:
    """A token refused twice is retried once by the queue, and that attempt fetches a new one."""
    state = sandbox.state
    state.faults.inject("GET", "/v2/users/me", 401, count=2, body=INVALID_TOKEN)
    task = app.tasks["zoomq.actions.getUser"]
    with pytest.raises(Retry) as first:
        attempt(task, 0, ({"userId": "me"},), {})
    assert first.value.when is not None
    assert float(first.value.when) <= get_runtime(app).config.retry_backoff_base
    args, kwargs = again(first.value)
    assert kwargs["meta"]["retry_counts"] == {"credentials_refresh": 1}
    issued = sum(state.oauth.issued.values())

    done = attempt(task, 1, args, kwargs)
    assert done["status"] == "done"
    assert sum(state.oauth.issued.values()) == issued + 1


def test_unauthorized_again_after_the_refresh_is_dead_lettered(
    sandbox: SandboxServer, app: Celery, redis_client: redis.Redis
) -> None:
    """Refused on fresh credentials too: the dead letters after two attempts, not eight."""
    sandbox.state.faults.inject("GET", "/v2/users/me", 401, body=INVALID_TOKEN)
    task = app.tasks["zoomq.actions.getUser"]
    with pytest.raises(Retry) as first:
        attempt(task, 0, ({"userId": "me"},), {})
    args, kwargs = again(first.value)
    outcome = attempt(task, 1, args, kwargs)
    assert outcome["status"] == "dead_lettered"
    entry = DeadLetterStore(redis_client).get(outcome["id"])
    assert entry is not None
    assert entry.error["type"] == "Unauthorized"
    assert entry.attempts == 2


def test_an_expired_page_token_restarts_the_task_then_dead_letters(
    app: Celery, redis_client: redis.Redis
) -> None:
    """PageTokenExpired is retried (a fresh walk from page one) a few times, not dropped."""
    task = app.tasks["zoomq.actions.listUsers"]
    expired = PageTokenExpired("The next page token is invalid or expired.", status=400, code=300)
    args: tuple[Any, ...] = ({},)
    kwargs: dict[str, Any] = {}
    for retries in range(LISTING_RESTARTS):
        with delivery(task, retries, "t-pages"), pytest.raises(Retry) as retried:
            task.handle_error(expired, args, kwargs)
        args, kwargs = again(retried.value)
        assert kwargs["meta"]["retry_counts"] == {"listing_restart": retries + 1}
    task.push_request(id="t-pages", retries=LISTING_RESTARTS, called_directly=False)
    try:
        outcome = task.handle_error(expired, args, kwargs)
    finally:
        task.pop_request()
    assert outcome["status"] == "dead_lettered"
    entry = DeadLetterStore(redis_client).get(outcome["id"])
    assert entry is not None
    assert entry.error["type"] == "PageTokenExpired"
    assert entry.attempts == LISTING_RESTARTS + 1
