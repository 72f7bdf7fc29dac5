"""The shapes of a bulk job: the request, its items' states and results, the job's view.

One set of pydantic models, used by the store (``zoomq.runtime.jobs``), the worker, the
``/v1`` handlers and the OpenAPI document generated from them, so none can drift.
"""

from __future__ import annotations

import difflib
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from zoomq.actions import CATALOG

__all__ = [
    "TERMINAL_STATES",
    "FieldError",
    "ItemError",
    "ItemErrorReport",
    "ItemResult",
    "ItemState",
    "JobMeta",
    "JobRequest",
    "JobStatus",
    "JobView",
    "Priority",
]

Priority = Literal["low", "normal", "high"]


class ItemState(StrEnum):
    """Where one item of a job is.

    ``failed``: Zoom refused it (a 4xx, its validation); retrying as is changes nothing.
    ``dead``: the queue's retries are used up (5xx, network, rate limits without end).
    """

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"


#: An item in one of these states is done with, for this run of the job.
TERMINAL_STATES = frozenset(
    {ItemState.SUCCEEDED, ItemState.FAILED, ItemState.DEAD, ItemState.CANCELLED}
)


class JobStatus(StrEnum):
    """Where the job is: ``completed`` once every item is terminal (whatever their states)."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobRequest(_Model):
    """``POST /v1/jobs``: one catalog action over many items.

    For an NDJSON upload the same fields come from the query string and the items are the
    body's lines; ``items`` is then empty here.
    """

    action: str = Field(description="a catalog action, e.g. addMeetingRegistrant")
    connection: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="None: the default one"
    )
    items: list[dict[str, Any]] = Field(
        default_factory=list,
        description="each item is the action's input, as `zoomq action NAME --input` takes it",
    )
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)
    callback_url: str | None = Field(default=None, max_length=2048)
    priority: Priority = "normal"
    batch: bool = Field(
        default=True,
        description=(
            "use Zoom's batch endpoints where the action has one (registrants: 30 per "
            "call); false sends one request per item"
        ),
    )

    @field_validator("action")
    @classmethod
    def _known_action(cls, v: str) -> str:
        if v not in CATALOG:
            close = difflib.get_close_matches(v, list(CATALOG), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ValueError(f"unknown action {v!r}{hint}")
        return v


class JobMeta(_Model):
    """What the store keeps of a request besides its items."""

    action: str
    connection: str | None = None
    idempotency_key: str | None = None
    callback_url: str | None = None
    priority: Priority = "normal"
    batch: bool = True

    @classmethod
    def of(cls, request: JobRequest) -> JobMeta:
        return cls.model_validate(request.model_dump(exclude={"items"}))


class ItemError(_Model):
    """Why an item failed: the error class, Zoom's code and message, the HTTP status."""

    type: str
    code: int | None = None
    message: str
    status: int | None = None


class ItemResult(_Model):
    """One item: its input, and its output or error once it ran."""

    index: int
    state: ItemState
    input: dict[str, Any]
    output: dict[str, Any] | None = None
    error: ItemError | None = None
    attempts: int = 0


class JobView(_Model):
    """A job as its submitter sees it (``GET /v1/jobs/{id}``)."""

    job_id: str
    tenant: str
    action: str
    connection: str | None
    status: JobStatus
    items: int
    counts: dict[ItemState, int]
    #: Terminal items / items, 0..1.
    progress: float
    #: Items finished per second over the last ~10 s.
    rate: float
    eta_seconds: float | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    priority: Priority
    callback_url: str | None
    batch: bool = True


class FieldError(_Model):
    """One invalid field of one item."""

    index: int
    field: str
    reason: str


class ItemErrorReport(_Model):
    """The 422 body of a job refused up front: ``count`` invalid items, ``errors_total``
    invalid fields among them, the first listed (``truncated`` when some were left off)."""

    error: Literal["invalid_items"] = "invalid_items"
    message: str = ""
    count: int
    errors_total: int = 0
    truncated: bool = False
    errors: list[FieldError]
