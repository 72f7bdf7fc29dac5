"""The bodies of the ``/v1`` HTTP API, written once: the receiver's handlers build them, the
OpenAPI document (``receiver.openapi``) is generated from them, and ``zoomq.jobs.Client``
parses them.

The job's own models (``JobRequest``, ``JobView``, ``ItemResult``, ``ItemErrorReport``) are
the core's (``zoomq.jobs.models``); what the API adds is here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from zoomq.jobs.models import ItemResult, JobView

__all__ = [
    "API_PREFIX",
    "NDJSON",
    "Accepted",
    "ErrorBody",
    "ItemsPage",
    "JobBody",
    "JobList",
    "ParamError",
    "RequestErrors",
    "Submitted",
]

API_PREFIX = "/v1"
#: The media type of an NDJSON upload and of ``/results``.
NDJSON = "application/x-ndjson"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Accepted(_Body):
    """202: the job is stored and its items are queued."""

    job_id: str
    items: int
    status_url: str


class Submitted(Accepted):
    """What ``Client.submit`` returns: the 202 body, and whether it was an idempotent replay
    (``Idempotent-Replayed: true``: the same key and body named an existing job)."""

    replayed: bool = False


class JobBody(JobView):
    """A job's state, with the URL to poll it at."""

    status_url: str


class JobList(_Body):
    """A page of the tenant's jobs, newest first; ``next_cursor`` None on the last page."""

    jobs: list[JobBody]
    next_cursor: int | None = None


class ItemsPage(_Body):
    """A page of a job's items in index order; ``next_cursor`` None on the last page."""

    items: list[ItemResult]
    next_cursor: int | None = None


class ErrorBody(_Body):
    """Every refusal: a short machine-readable ``error`` and a sentence for people."""

    error: str
    message: str


class ParamError(_Body):
    """One bad field of a request (not of an item): its name and why."""

    field: str
    reason: str


class RequestErrors(_Body):
    """422 for the request's own fields (action, connection, callback_url, a parameter)."""

    error: Literal["invalid_request"] = "invalid_request"
    message: str
    errors: list[ParamError]
