"""The receiver: Zoom webhooks in, Celery task messages out, on Redis; health and metrics.

Imports ``zoomq`` only, never ``tasks`` or ``worker``: events reach Celery by task name.
"""

from receiver.app import create_app
from zoomq.runtime.names import EVENT_TASK

__all__ = ["EVENT_TASK", "create_app"]
