"""Putting work on the Celery queues from processes that do not run Celery.

``build_task_message`` writes the protocol-2 message a Celery worker consumes from Redis;
``BatchEnqueuer`` pushes such messages durably, deduplicated and in batches. The webhook
receiver uses both, and so can anything else that must enqueue fast (the bulk jobs API).
"""

from zoomq.errors import QueueUnavailable
from zoomq.runtime.celery_message import (
    RawJSON,
    build_task_message,
    next_delivery_tag,
    origin_nodename,
)
from zoomq.runtime.enqueue import ENQUEUE_SCRIPT, BatchEnqueuer

__all__ = [
    "ENQUEUE_SCRIPT",
    "BatchEnqueuer",
    "QueueUnavailable",
    "RawJSON",
    "build_task_message",
    "next_delivery_tag",
    "origin_nodename",
]
