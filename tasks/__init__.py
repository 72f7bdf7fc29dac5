"""Celery tasks: thin wrappers that bind log context, map errors and call zoomq.

- ``zoomq.actions.<key>``  one per catalog action (``tasks.actions``)
- ``zoomq.events.handle``  one Zoom event → its automations (``tasks.events``)
- ``zoomq.automations.run`` one automation for one event (``tasks.automations``)
- ``zoomq.downloads.file`` one recording file into the archive (``tasks.downloads``)
- ``zoomq.downloads.sync`` one connection's recordings reconciled with the archive
  (``tasks.sync``)
- ``zoomq.jobs.run_chunk`` some items of one bulk job (``tasks.bulk``)
- ``zoomq.jobs.callback`` a finished bulk job's signed completion callback
  (``tasks.callbacks``)

Queue-level retries live in one place, ``tasks.base.ZoomqTask``, and its decisions in
``tasks.policy``. Tasks are registered on zoomq's own app (``register_tasks``), not as
shared tasks, so another Celery app in the same process never sees them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["register_tasks"]


def register_tasks(app: Celery) -> None:
    """Register every zoomq task on ``app`` (``shared=False``: on this app only)."""
    from tasks import actions, automations, bulk, callbacks, downloads, events, sync

    actions.register(app)
    events.register(app)
    automations.register(app)
    downloads.register(app)
    sync.register(app)
    bulk.register(app)
    callbacks.register(app)
