"""Bulk jobs: many items of one catalog action, run at the account's budget, reported per item.

``models`` holds the shapes every layer shares (the store in ``zoomq.runtime.jobs``
returns them); ``submit`` validates and fans a job out; ``execute`` and ``batch`` run its
chunks in the worker; ``Client`` is the Python client of the receiver's ``/v1`` API.
"""

from zoomq.jobs.client import Client
from zoomq.jobs.models import (
    ItemError,
    ItemErrorReport,
    ItemResult,
    ItemState,
    JobRequest,
    JobStatus,
    JobView,
)

__all__ = [
    "Client",
    "ItemError",
    "ItemErrorReport",
    "ItemResult",
    "ItemState",
    "JobRequest",
    "JobStatus",
    "JobView",
]
