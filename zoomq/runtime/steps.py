"""One catalog action as one step: the side-effect guard and its recovery, written once.

The action task and an automation's ``run_action`` both run their actions here. A step
without a side effect (a GET) simply runs; one with a side effect runs under
``idempotency.run_once`` keyed by the step's key, and when an earlier attempt began and
never finished, ``recover.find_earlier`` looks in Zoom for what it made first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from zoomq.actions import run_action
from zoomq.actions.recover import find_earlier
from zoomq.runtime.idempotency import IdempotencyStore, Looked, has_side_effects, run_once

if TYPE_CHECKING:
    from zoomq.client.http import ZoomClient

__all__ = ["attempt_owner", "run_step"]


def attempt_owner(task_id: str | None, retries: int | None) -> str:
    """Unique per attempt of a task: the owner of the step leases that attempt takes."""
    return f"{task_id}:{retries or 0}:{uuid.uuid4().hex[:12]}"


def run_step(
    client: Callable[[], ZoomClient],
    action: str,
    data: Mapping[str, Any],
    *,
    store: IdempotencyStore | None,
    key: str,
    owner: str,
    lease: float,
) -> tuple[dict[str, Any], bool]:
    """Run catalog ``action`` once per ``key``; returns ``(result, replayed)``.

    ``client`` is called only when Zoom is to be asked. Without a ``store`` (a run outside
    the worker) or a side effect, the action just runs. Raises ``StepInProgress`` while
    another attempt holds the step's lease.
    """

    def call() -> dict[str, Any]:
        return run_action(client(), action, data)

    if store is None or not has_side_effects(action, data):
        return call(), False

    def recover(looked: Looked) -> dict[str, Any] | None:
        return find_earlier(client(), action, data, looked)

    return run_once(store, key, owner, lease, action, call, recover)
