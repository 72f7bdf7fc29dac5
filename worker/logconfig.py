"""Worker logging: ``zoomq.logs.configure_logging``, which Celery's own records go through.

Celery logs through the standard library (received, succeeded, retry...). Handling its
``setup_logging`` signal with this keeps Celery from installing handlers of its own, so
those records reach the one root handler and are redacted like structlog's events, with
the same vocabulary (``zoomq.logs.redact_value``), reprs of task arguments included.

Logging is configured once per process, by its entry point: ``zoomq worker`` runs under the
root CLI group, which already did it, so the signal leaves that configuration in place;
``celery -A worker.app worker`` (or a worker started in-process) is configured here. Forked
pool children inherit it (Celery does not send the signal again in them).
"""

from __future__ import annotations

import logging

import structlog

from zoomq.logs import configure_logging

__all__ = ["setup_worker_logging"]


def _configured_at(level: int) -> bool:
    """zoomq's configuration is in place at ``level``: structlog set up, the root logger
    handled by a structlog ``ProcessorFormatter`` (the one handler ``configure_logging``
    installs)."""
    root = logging.getLogger()
    return (
        structlog.is_configured()
        and root.level == level
        and any(isinstance(h.formatter, structlog.stdlib.ProcessorFormatter) for h in root.handlers)
    )


def setup_worker_logging(fmt: str = "auto", level: str | int = "INFO") -> None:
    """Configure the worker process's logging unless its entry point already did, at
    ``level`` (Celery passes an int; a ``--loglevel`` other than the CLI's reconfigures)."""
    number = level if isinstance(level, int) else logging.getLevelNamesMapping().get(level.upper())
    if number is not None and _configured_at(number):
        return
    configure_logging(fmt, level)  # an unknown level name raises, naming it
