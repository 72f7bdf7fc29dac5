"""The task ledger: what was sent and not finished comes back once it is overdue."""

from __future__ import annotations

import redis

from zoomq.ledger import Ledger
from zoomq.parking import TaskMessage


def _msg(i: int) -> TaskMessage:
    return TaskMessage(
        "zoomq.actions.getUser", [{"userId": f"u{i}"}], {}, f"t-{i}", queue="actions"
    )


def test_overdue_messages_come_back_once_per_period(redis_client: redis.Redis) -> None:
    """Unfinished past the visibility timeout: handed back, then not again for a period."""
    now = [1000.0]
    ledger = Ledger(redis_client, clock=lambda: now[0])
    ledger.record(_msg(1), starts_at=1000.0)
    ledger.record(_msg(2), starts_at=1000.0)
    ledger.record(_msg(3), starts_at=1050.0)  # an ETA: its clock starts later
    ledger.done("t-2")
    assert ledger.claim_overdue(older_than=30) == []
    now[0] = 1031.0
    assert ledger.claim_overdue(older_than=30) == [_msg(1)]
    assert ledger.claim_overdue(older_than=30) == []  # its clock started again
    now[0] = 1081.0
    assert [m.task_id for m in ledger.claim_overdue(older_than=30)] == ["t-1", "t-3"]
    ledger.done("t-1")
    ledger.done("t-3")
    assert ledger.count() == 0


def test_every_zoomq_send_is_recorded_and_a_finished_task_removed(redis_url: str) -> None:
    """ZoomqCelery.send_task writes the message before sending; task_postrun clears it."""
    from worker.app import create_celery
    from worker.signals import _finished
    from zoomq.settings import Settings

    app = create_celery(Settings(_env_file=None, redis_url=redis_url))
    app.send_task("zoomq.actions.getUser", args=[{"userId": "me"}], task_id="t-9", countdown=5)
    ledger = Ledger(redis.Redis.from_url(redis_url))
    assert ledger.count() == 1
    _finished(task_id="t-9", task=app.tasks["zoomq.actions.getUser"], state="RETRY")
    assert ledger.count() == 1  # a retry is a new message with the same id: still pending
    _finished(task_id="t-9", task=app.tasks["zoomq.actions.getUser"], state="SUCCESS")
    assert ledger.count() == 0
    app.close()
