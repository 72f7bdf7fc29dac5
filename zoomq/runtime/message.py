"""The task message: what zoomq needs to send a Celery task again (park, replay, re-send)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["TaskMessage"]


@dataclass(frozen=True)
class TaskMessage:
    """Everything needed to send a task again: name, args, kwargs, id and attempts so far."""

    name: str
    args: list[Any]
    kwargs: dict[str, Any]
    task_id: str
    #: Celery's ``retries`` count when it was taken out of the queue.
    attempts: int = 0
    #: The queue it came from; None lets the router choose.
    queue: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "args": self.args,
            "kwargs": self.kwargs,
            "task_id": self.task_id,
            "attempts": self.attempts,
            "queue": self.queue,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskMessage:
        return cls(
            name=str(data["name"]),
            args=list(data.get("args") or []),
            kwargs=dict(data.get("kwargs") or {}),
            task_id=str(data["task_id"]),
            attempts=int(data.get("attempts") or 0),
            queue=data.get("queue"),
        )

    def with_attempts(self, attempts: int) -> TaskMessage:
        return replace(self, attempts=attempts)
