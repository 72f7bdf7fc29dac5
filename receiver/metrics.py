"""The receiver's metrics: plain counters on the hot path, Prometheus text on ``/metrics``.

prometheus_client's labelled counters take a lock and a label lookup per increment; these
are dict and list updates, safe because the receiver runs on one event loop thread.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable

__all__ = ["ENQUEUE_BUCKETS", "OTHER_EVENT", "ReceiverMetrics"]

#: Upper bounds (seconds) of the enqueue-latency histogram buckets.
ENQUEUE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: The ``event`` label once ``max_event_labels`` distinct names have been seen.
OTHER_EVENT = "other"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


class ReceiverMetrics:
    """Counters of webhook outcomes, signature failures, dedup hits and enqueue latency."""

    def __init__(self, *, max_event_labels: int = 200) -> None:
        self.webhooks: dict[tuple[str, str], int] = {}
        self.signature_failures: dict[str, int] = {}
        self.dedup_hits = 0
        self.enqueue_batches = 0
        self.enqueue_batch_items = 0
        self._buckets = [0] * (len(ENQUEUE_BUCKETS) + 1)
        self._enqueue_sum = 0.0
        self._events: set[str] = set()
        self._max_events = max_event_labels
        #: Read at scrape time: how many events wait for the writer.
        self.pending: Callable[[], int] = lambda: 0

    def webhook(self, outcome: str, event: str = "") -> None:
        """Count one request by outcome and (for signed envelopes) event name."""
        if event and event not in self._events:
            # Only signed bodies carry an event name here, but bound the label set anyway.
            if len(self._events) >= self._max_events:
                event = OTHER_EVENT
            else:
                self._events.add(event)
        key = (outcome, event)
        self.webhooks[key] = self.webhooks.get(key, 0) + 1

    def signature_failure(self, reason: str) -> None:
        self.signature_failures[reason] = self.signature_failures.get(reason, 0) + 1

    def observe_enqueue(self, seconds: float) -> None:
        """One request's wait from submitting its event to Redis's confirmation."""
        self._buckets[bisect_left(ENQUEUE_BUCKETS, seconds)] += 1
        self._enqueue_sum += seconds

    def observe_batch(self, size: int, seconds: float) -> None:
        del seconds
        self.enqueue_batches += 1
        self.enqueue_batch_items += size

    def render(self) -> str:
        """Prometheus text exposition format, version 0.0.4."""
        lines = [
            "# HELP zoomq_webhooks_total Webhook requests by outcome and event.",
            "# TYPE zoomq_webhooks_total counter",
        ]
        for (outcome, event), count in sorted(self.webhooks.items()):
            labels = f'outcome="{_escape(outcome)}",event="{_escape(event)}"'
            lines.append(f"zoomq_webhooks_total{{{labels}}} {count}")
        lines += [
            "# HELP zoomq_webhook_signature_failures_total Requests refused by the verifier.",
            "# TYPE zoomq_webhook_signature_failures_total counter",
        ]
        for reason, count in sorted(self.signature_failures.items()):
            lines.append(
                f'zoomq_webhook_signature_failures_total{{reason="{_escape(reason)}"}} {count}'
            )
        lines += [
            "# HELP zoomq_webhook_dedup_hits_total Deliveries of events already enqueued.",
            "# TYPE zoomq_webhook_dedup_hits_total counter",
            f"zoomq_webhook_dedup_hits_total {self.dedup_hits}",
            "# HELP zoomq_webhook_enqueue_seconds Wait for Redis to confirm an event.",
            "# TYPE zoomq_webhook_enqueue_seconds histogram",
        ]
        cumulative = 0
        for bound, count in zip(ENQUEUE_BUCKETS, self._buckets, strict=False):
            cumulative += count
            lines.append(f'zoomq_webhook_enqueue_seconds_bucket{{le="{bound}"}} {cumulative}')
        total = cumulative + self._buckets[-1]
        lines += [
            f'zoomq_webhook_enqueue_seconds_bucket{{le="+Inf"}} {total}',
            f"zoomq_webhook_enqueue_seconds_count {total}",
            f"zoomq_webhook_enqueue_seconds_sum {_number(self._enqueue_sum)}",
            "# HELP zoomq_enqueue_batches_total Rounds of writes to Redis.",
            "# TYPE zoomq_enqueue_batches_total counter",
            f"zoomq_enqueue_batches_total {self.enqueue_batches}",
            "# HELP zoomq_enqueue_batch_items_total Items written in those rounds.",
            "# TYPE zoomq_enqueue_batch_items_total counter",
            f"zoomq_enqueue_batch_items_total {self.enqueue_batch_items}",
            "# HELP zoomq_enqueue_pending Items waiting for the next round.",
            "# TYPE zoomq_enqueue_pending gauge",
            f"zoomq_enqueue_pending {self.pending()}",
        ]
        return "\n".join(lines) + "\n"
