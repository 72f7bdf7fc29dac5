"""/metrics is valid Prometheus text and counts what happened."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from receiver.metrics import OTHER_EVENT, ReceiverMetrics
from tests.receiver.conftest import AppClient, event_body, signed


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_after_traffic(client: AppClient) -> None:
    """Outcomes by event, failures by reason, dedup hits and the enqueue histogram."""
    body = event_body("meeting.created")
    client.post("/webhooks/zoom", content=body, headers=signed(body))
    client.post("/webhooks/zoom", content=body, headers=signed(body))
    client.post("/webhooks/zoom", content=body, headers={})
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(response.text)
    enqueued = (("event", "meeting.created"), ("outcome", "enqueued"))
    assert found[("zoomq_webhooks_total", enqueued)] == 1
    assert (
        found[("zoomq_webhooks_total", (("event", "meeting.created"), ("outcome", "duplicate")))]
        == 1
    )
    assert found[("zoomq_webhooks_total", (("event", ""), ("outcome", "unauthorized")))] == 1
    assert (
        found[("zoomq_webhook_signature_failures_total", (("reason", "missing_signature"),))] == 1
    )
    assert found[("zoomq_webhook_dedup_hits_total", ())] == 1
    assert found[("zoomq_webhook_enqueue_seconds_count", ())] == 2
    assert found[("zoomq_webhook_enqueue_seconds_bucket", (("le", "+Inf"),))] == 2
    assert found[("zoomq_enqueue_batch_items_total", ())] == 2


def test_event_label_cardinality_is_bounded() -> None:
    """Past the label budget, new event names are counted as "other"; labels are escaped."""
    metrics = ReceiverMetrics(max_event_labels=2)
    for name in ('a"b', "c\\d", "e", "f"):
        metrics.webhook("enqueued", name)
    found = samples(metrics.render())
    assert found[("zoomq_webhooks_total", (("event", 'a"b'), ("outcome", "enqueued")))] == 1
    assert found[("zoomq_webhooks_total", (("event", "c\\d"), ("outcome", "enqueued")))] == 1
    assert found[("zoomq_webhooks_total", (("event", OTHER_EVENT), ("outcome", "enqueued")))] == 2
