"""The worker's Prometheus metrics: every counter zoomq's hooks add to, in one module.

prometheus_client objects, so a prefork worker's children count into the
``PROMETHEUS_MULTIPROC_DIR`` files (multiprocess mode, chosen by prometheus_client when that
variable is set) and the main process serves their sum (``worker.metrics``); with the
threads pool they are plain in-process counters. Every metric has labels, so nothing is
written until a hook first counts (a process that never counts, like the receiver, which
imports the runtime, leaves no file behind). Gauges read from Redis at scrape time (queue
depth, parked tasks, dead letters now, the archive's counters) are ``worker.metrics``'s.

The receiver keeps its own hand-written counters (``receiver.metrics``); no name here is
one of its names.

The hooks are plain functions, each one labelled ``inc``: the Celery signals
(``worker.signals``), the parking lot and dead-letter store (``zoomq.runtime``), the Zoom
client through ``CLIENT_OBSERVER`` (the client itself knows only its ``RateObserver``
protocol), and the bulk jobs' executor through ``bulk_items``.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Histogram

from zoomq.client.ratelimit import RateCategory

__all__ = [
    "BULK_ITEMS",
    "CLIENT_OBSERVER",
    "DEAD_LETTERS",
    "LIMITER_WAIT",
    "OUTCOMES",
    "TASKS",
    "TASKS_PARKED",
    "TASK_DURATION",
    "TASK_RETRIES",
    "ZOOM_RATE_LIMITED",
    "ClientMetrics",
    "bulk_items",
    "dead_lettered",
    "task_finished",
    "task_parked",
    "task_retried",
]

#: The ``outcome`` label of ``zoomq_tasks_total``.
OUTCOMES = ("done", "retried", "parked", "dead", "failed")

TASKS = Counter(
    "zoomq_tasks",
    "Task runs by task name and outcome (done, retried, parked, dead, failed).",
    ["task", "outcome"],
)
TASK_DURATION = Histogram(
    "zoomq_task_duration_seconds",
    "Seconds one task run took, by task name.",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
TASK_RETRIES = Counter(
    "zoomq_task_retries", "Queue retries by task name and error class.", ["task", "error"]
)
TASKS_PARKED = Counter(
    "zoomq_tasks_parked", "Tasks parked until a later time (daily limits).", ["task"]
)
DEAD_LETTERS = Counter(
    "zoomq_dead_letters",
    "Messages put in the dead-letter store, by task name (not zoomq's, or unreadable: other).",
    ["task"],
)
ZOOM_RATE_LIMITED = Counter(
    "zoomq_zoom_rate_limited",
    "429 answers from Zoom by rate category, daily limits apart.",
    ["category", "daily"],
)
LIMITER_WAIT = Counter(
    "zoomq_limiter_wait_seconds",
    "Seconds slept waiting for a slot of zoomq's rate limiter, by category.",
    ["category"],
)
BULK_ITEMS = Counter(
    "zoomq_bulk_items",
    "Bulk job items by the state they reached (done, failed, skipped, ...).",
    ["state"],
)

_CATEGORIES = frozenset(c.value for c in RateCategory)

# Labelled children by label values: ``labels()`` validates and locks on every call, half
# the cost of a count (bench/bench_metrics.py). A child outlives a fork: in multiprocess
# mode its value notices the new pid and opens the child process's own file.
_RUNS: dict[tuple[str, str], Any] = {}
_DURATIONS: dict[str, Any] = {}


def task_finished(task: str, outcome: str, seconds: float | None = None) -> None:
    """One task run ended with ``outcome`` (one of ``OUTCOMES``) after ``seconds``."""
    key = (task, outcome)
    runs = _RUNS.get(key)
    if runs is None:
        runs = _RUNS[key] = TASKS.labels(task, outcome)
    runs.inc()
    if seconds is not None:
        duration = _DURATIONS.get(task)
        if duration is None:
            duration = _DURATIONS[task] = TASK_DURATION.labels(task)
        duration.observe(seconds)


def task_retried(task: str, error: str) -> None:
    """The queue sends ``task`` again later because of an ``error`` (its class name)."""
    TASK_RETRIES.labels(task, error).inc()


def _task_label(task: str) -> str:
    # Names come from messages too (an unknown task): only zoomq's own become labels.
    return task if task.startswith("zoomq.") else "other"


def task_parked(task: str) -> None:
    TASKS_PARKED.labels(_task_label(task)).inc()


def dead_lettered(task: str) -> None:
    DEAD_LETTERS.labels(_task_label(task)).inc()


def bulk_items(state: str, count: int = 1) -> None:
    """``count`` bulk items reached ``state``: the jobs executor calls this per transition."""
    BULK_ITEMS.labels(state).inc(count)


class ClientMetrics:
    """The Zoom client's ``RateObserver`` that counts into the metrics above."""

    def waited(self, category: str, seconds: float) -> None:
        LIMITER_WAIT.labels(category).inc(seconds)

    def rate_limited(self, category: str, *, daily: bool) -> None:
        # Zoom's header names the category ("Resource-intensive"); an unknown one must not
        # grow the label set.
        name = category.strip().lower().replace("-", "_").replace(" ", "_")
        known = name if name in _CATEGORIES else "other"
        ZOOM_RATE_LIMITED.labels(known, "true" if daily else "false").inc()


#: The one observer the worker's clients are given.
CLIENT_OBSERVER = ClientMetrics()
