"""What an automation function gets besides the event: the means to run catalog actions.

Each ``run_action`` call is one step with its own idempotency key (the run's key plus the
step's index and action), so when a run is retried after its third step failed, the first
two return their recorded results instead of calling Zoom again. Steps must therefore be
called in the same order on every run of the same event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from zoomq.runtime.idempotency import IdempotencyStore, step_key
from zoomq.runtime.steps import run_step

if TYPE_CHECKING:
    from zoomq.client.http import ZoomClient

__all__ = ["AutomationContext", "ClientFactory", "StepResult"]

#: A ``ZoomClient`` for a connection name (None: the default connection).
ClientFactory = Callable[[str | None], "ZoomClient"]


@dataclass(frozen=True)
class StepResult:
    """One action a run performed (or found already performed)."""

    index: int
    action: str
    key: str
    replayed: bool


@dataclass
class AutomationContext:
    """The automation's view of one event: its meta, a logger, and ``run_action``."""

    automation: str
    run_key: str
    meta: dict[str, Any]
    clients: ClientFactory
    store: IdempotencyStore | None
    #: Unique per attempt: owns the step leases it takes.
    owner: str
    lease: float = 300.0
    connection: str | None = None
    steps: list[StepResult] = field(default_factory=list)

    @property
    def correlation_id(self) -> str | None:
        value = self.meta.get("correlation_id")
        return value if isinstance(value, str) else None

    @property
    def log(self) -> Any:
        return structlog.get_logger("zoomq.automations").bind(automation=self.automation)

    def run_action(
        self, key: str, data: Mapping[str, Any], *, connection: str | None = None
    ) -> dict[str, Any]:
        """Run the catalog action ``key`` once per event; returns ``{"data": ...}``."""
        index = len(self.steps)
        skey = step_key(self.run_key, index, key)
        conn = connection or self.connection
        result, replayed = run_step(
            lambda: self.clients(conn),
            key,
            data,
            store=self.store,
            key=skey,
            owner=self.owner,
            lease=self.lease,
        )
        self.steps.append(StepResult(index, key, skey, replayed))
        structlog.get_logger("zoomq.automations").info(
            "automation.step_skipped" if replayed else "automation.step_done",
            automation=self.automation,
            step=index,
            action=key,
        )
        return result
