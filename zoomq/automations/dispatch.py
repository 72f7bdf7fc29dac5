"""From one event to its automations: dispatch each matching one once, run one run.

``dispatch_event`` is what the events task calls; ``run_automation`` is what the
automation task calls. Both are plain functions: the tasks only bind context and map
errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from zoomq.automations.context import AutomationContext
from zoomq.automations.registry import Automation, Automations
from zoomq.errors import DispatchIncomplete
from zoomq.runtime.idempotency import IdempotencyStore, event_key, run_key

__all__ = [
    "DispatchReport",
    "Enqueue",
    "child_meta",
    "dispatch_event",
    "run_automation",
]

log = structlog.get_logger("zoomq.automations")

#: Enqueue one run: ``(automation name, run key used as task id, meta for the run)``.
Enqueue = Callable[[str, str, dict[str, Any]], None]

#: The meta fields a run inherits from its event.
_INHERITED = ("connection", "received_at", "correlation_id", "dedup_key", "request_id")


@dataclass
class DispatchReport:
    """What happened to each automation matching one event."""

    event_key: str
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_key": self.event_key,
            "sent": self.sent,
            "skipped": self.skipped,
            "failed": self.failed,
        }


def child_meta(meta: Mapping[str, Any], ekey: str, key: str, automation: str) -> dict[str, Any]:
    """Meta for an automation run: the event's correlation id and origin, plus its key."""
    out = {k: meta[k] for k in _INHERITED if k in meta}
    out["dedup_key"] = ekey
    out["automation"] = automation
    out["idempotency_key"] = key
    return out


def dispatch_event(
    event: Mapping[str, Any],
    meta: Mapping[str, Any],
    automations: Automations,
    store: IdempotencyStore,
    enqueue: Enqueue,
) -> DispatchReport:
    """Enqueue one run per matching automation, at most once per event.

    Each run is guarded by ``SET NX`` on its key. A run whose enqueue fails does not stop
    the others; ``DispatchIncomplete`` is raised after them, and retrying the event then
    sends only what is missing.
    """
    ekey = event_key(event, meta)
    report = DispatchReport(ekey)
    for auto in automations.for_event(event, meta):
        key = run_key(ekey, auto.name)
        try:
            if not store.claim_dispatch(key):
                report.skipped.append(auto.name)
                log.info("automation.already_dispatched", automation=auto.name, run_key=key)
                continue
            enqueue(auto.name, key, child_meta(meta, ekey, key, auto.name))
            store.mark_dispatched(key)
        except Exception as exc:  # one automation's failure must not stop the others
            report.failed[auto.name] = f"{type(exc).__name__}: {exc}"
            # Not log.exception: a traceback's text would bypass the redact processor.
            log.error(  # noqa: TRY400
                "automation.dispatch_failed",
                automation=auto.name,
                run_key=key,
                error=type(exc).__name__,
                detail=str(exc),
            )
            continue
        report.sent.append(auto.name)
        log.info("automation.dispatched", automation=auto.name, run_key=key)
    if report.failed:
        raise DispatchIncomplete(report.failed, report.sent)
    return report


def run_automation(auto: Automation, event: dict[str, Any], ctx: AutomationContext) -> Any:
    """Run one automation for one event (its steps guarded by ``ctx``)."""
    if ctx.connection is None:
        given = auto.connection or ctx.meta.get("connection")
        ctx.connection = given if isinstance(given, str) else None
    return auto.handler(event, ctx)
