"""Worker logging: ``zoomq.logs.configure_logging``, which Celery's own records go through.

Celery logs through the standard library (received, succeeded, retry...). Handling its
``setup_logging`` signal with this keeps Celery from installing handlers of its own, so
those records reach the one root handler and are redacted like structlog's events, with
the same vocabulary (``zoomq.logs.redact_value``), reprs of task arguments included.
"""

from __future__ import annotations

from zoomq.logs import configure_logging

__all__ = ["setup_worker_logging"]


def setup_worker_logging(fmt: str = "auto", level: str | int = "INFO") -> None:
    """Configure the worker process's logging once, at start (Celery passes an int level)."""
    configure_logging(fmt, level)
