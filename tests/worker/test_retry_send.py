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
