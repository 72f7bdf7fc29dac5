"""The queue layer's knobs, read once from ``Settings``.

Every field has its default here; a ``Settings`` attribute of the same name
(``zoomq_<field>``, None unless configured) overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from zoomq.automations import split_modules
from zoomq.errors import ConfigurationError
from zoomq.settings import Settings

__all__ = ["QueueConfig"]


@dataclass(frozen=True)
class QueueConfig:
    """Retry budgets, backoff, parking and idempotency settings of the queue layer."""

    #: Redis hands an unacknowledged message out again after this long (s).
    visibility_timeout: int = 3600
    #: Hard and soft time limits of one task run (s); below the visibility timeout.
    task_time_limit: int = 1800
    task_soft_time_limit: int = 1740
    #: Transient errors (TransportError, ServerError, ...): full-jitter exponential backoff.
    retry_backoff_base: float = 2.0
    retry_backoff_cap: float = 600.0
    max_retries: int = 8
    #: RateLimited: wait its retry_after plus up to this much jitter (s); own budget.
    rate_limit_jitter: float = 5.0
    max_rate_limit_retries: int = 50
    #: DailyLimitExceeded: park until reset_at plus up to this much jitter (s).
    daily_limit_jitter: float = 60.0
    #: The longest Celery countdown; longer waits are parked (default: visibility / 2).
    max_countdown: float = 0.0
    #: Lease of one idempotent step while it runs (s), and how long done records live.
    step_lease: float = 300.0
    idempotency_ttl: int = 7 * 86_400
    #: How often the worker's scheduler looks for due parked tasks (s).
    scheduler_interval: float = 1.0
    rules_file: Path | None = None
    automation_modules: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_countdown <= 0:
            object.__setattr__(self, "max_countdown", self.visibility_timeout / 2)
        if self.task_time_limit >= self.visibility_timeout:
            raise ConfigurationError(
                f"ZOOMQ_TASK_TIME_LIMIT ({self.task_time_limit}) must be below "
                f"ZOOMQ_VISIBILITY_TIMEOUT ({self.visibility_timeout}): a task still running "
                "when its message becomes visible again would run twice"
            )
        if self.task_soft_time_limit >= self.task_time_limit:
            object.__setattr__(self, "task_soft_time_limit", int(self.task_time_limit * 0.95))

    @classmethod
    def from_settings(cls, settings: Settings) -> QueueConfig:
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = getattr(settings, f"zoomq_{f.name}", None)
            if value is None:
                continue
            if f.name == "automation_modules":
                value = split_modules(value)
            elif f.name == "rules_file":
                value = Path(value)
            values[f.name] = value
        return cls(**values)
