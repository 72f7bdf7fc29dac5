"""The metric hooks one by one: the client's observer, task outcomes, the stores' counters,
and the gauges read from Redis at scrape time."""

from __future__ import annotations

from typing import Any

import httpx
import redis
from prometheus_client import CollectorRegistry

from tests.client.fakes import FakeClock, ScriptedZoom, connection, settings
from worker.metrics import RedisCollector
from worker.signals import outcome
from zoomq.client import Backoff, MemoryRateLimiter, MemoryTokenStore, RetryPolicy, ZoomClient
from zoomq.metrics import CLIENT_OBSERVER, bulk_items
from zoomq.runtime.dlq import DeadLetterStore
from zoomq.runtime.keys import Keys
from zoomq.runtime.ledger import BrokerKeys
from zoomq.runtime.message import TaskMessage
from zoomq.runtime.parking import ParkingLot


class Recorder:
    """A RateObserver that keeps what it is told."""

    def __init__(self) -> None:
        self.waits: list[tuple[str, float]] = []
        self.limited: list[tuple[str, bool]] = []

    def waited(self, category: str, seconds: float) -> None:
        self.waits.append((category, seconds))

    def rate_limited(self, category: str, *, daily: bool) -> None:
        self.limited.append((category, daily))


def client(zoom: ScriptedZoom, observer: Recorder, rates: dict[str, float]) -> ZoomClient:
    s = settings()
    clock = FakeClock()
    return ZoomClient(
        s,
        connection(s).model_copy(update={"rate_limits": rates}),
        policy=RetryPolicy(max_attempts=4, backoff=Backoff(rand=lambda: 0.5)),
        transport=zoom.transport(),
        clock=clock,
        limiter=MemoryRateLimiter(clock),
        token_store=MemoryTokenStore(),
        observer=observer,
    )


def test_the_client_tells_its_observer_of_429s_and_limiter_waits() -> None:
    """A short 429 slept off is reported with Zoom's category; a limiter wait with its own."""
    zoom = ScriptedZoom(
        httpx.Response(
            429,
            json={"code": 429, "message": "too many"},
            headers={"Retry-After": "1", "X-RateLimit-Category": "Medium"},
        ),
        httpx.Response(200, json={}),
        httpx.Response(200, json={}),
    )
    seen = Recorder()
    zc = client(zoom, seen, {"light": 2.0})
    zc.request("GET", "/users/me")
    assert seen.limited == [("Medium", False)]  # as Zoom spells it; the metrics normalise
    zc.request("GET", "/users/me")  # 2/s: the third slot of the run waits
    assert seen.waits
    assert {c for c, _ in seen.waits} == {"light"}
    assert all(w > 0 for _, w in seen.waits)


def counted(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_client_metrics_bound_their_labels() -> None:
    """Zoom's spelling of a category becomes zoomq's; an unknown one is ``other``."""
    before = counted("zoomq_zoom_rate_limited_total", category="resource_intensive", daily="false")
    CLIENT_OBSERVER.rate_limited("Resource-intensive", daily=False)
    after = counted("zoomq_zoom_rate_limited_total", category="resource_intensive", daily="false")
    assert after == before + 1
    before = counted("zoomq_zoom_rate_limited_total", category="other", daily="true")
    CLIENT_OBSERVER.rate_limited("Sparkly", daily=True)
    assert counted("zoomq_zoom_rate_limited_total", category="other", daily="true") == before + 1
    before = counted("zoomq_limiter_wait_seconds_total", category="heavy")
    CLIENT_OBSERVER.waited("heavy", 0.25)
    assert counted("zoomq_limiter_wait_seconds_total", category="heavy") == before + 0.25


def test_outcomes_follow_the_state_and_the_summary() -> None:
    assert outcome("SUCCESS", {"status": "done", "action": "getUser"}) == "done"
    assert outcome("SUCCESS", None) == "done"
    assert outcome("SUCCESS", {"status": "parked", "due_at": 1.0}) == "parked"
    assert outcome("SUCCESS", {"status": "dead_lettered", "id": "x"}) == "dead"
    assert outcome("RETRY", None) == "retried"
    assert outcome("FAILURE", None) == "failed"
    assert outcome("REJECTED", None) == "failed"


def test_parking_and_dead_letters_count_by_task(redis_client: redis.Redis) -> None:
    message = TaskMessage(name="zoomq.actions.getUser", args=[], kwargs={}, task_id="t-1")
    parked = counted("zoomq_tasks_parked_total", task="zoomq.actions.getUser")
    dead = counted("zoomq_dead_letters_total", task="other")
    ParkingLot(redis_client).park(message, 10.0)
    DeadLetterStore(redis_client).add(
        TaskMessage(name="not.ours", args=[], kwargs={}, task_id="t-2"), {"type": "X"}
    )
    assert counted("zoomq_tasks_parked_total", task="zoomq.actions.getUser") == parked + 1
    assert counted("zoomq_dead_letters_total", task="other") == dead + 1


def test_bulk_items_count_by_state() -> None:
    before = counted("zoomq_bulk_items_total", state="done")
    bulk_items("done", 3)
    assert counted("zoomq_bulk_items_total", state="done") == before + 3


def scrape(collector: RedisCollector) -> dict[tuple[str, tuple[Any, ...]], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
    }


def test_queue_depth_sums_every_priority_list_kombu_keeps(redis_client: redis.Redis) -> None:
    """kombu's Redis transport keeps priority n of queue q in ``q\\x06\\x16n``: all count."""
    broker = BrokerKeys(lists=())
    redis_client.lpush("events", b"a", b"b")
    redis_client.lpush("events\x06\x163", b"c")
    redis_client.lpush("actions\x06\x169", b"d")
    redis_client.hset("unacked", "tag", b"m")
    redis_client.hset(Keys().dlq_entries, "x", b"{}")
    redis_client.zadd(Keys().dlq_index, {"x": 1})
    redis_client.hset(Keys()("archive", "stats"), mapping={"files": 4, "bytes": 4096})
    found = scrape(RedisCollector(redis_client, Keys(), broker, ["events", "actions"]))
    assert found[("zoomq_queue_depth", (("queue", "events"),))] == 3
    assert found[("zoomq_queue_depth", (("queue", "actions"),))] == 1
    assert found[("zoomq_unacked_messages", ())] == 1
    assert found[("zoomq_dead_letter_entries", ())] == 1
    assert found[("zoomq_parked_tasks", ())] == 0
    assert found[("zoomq_archive_files_total", ())] == 4
    assert found[("zoomq_archive_bytes_total", ())] == 4096
    assert found[("zoomq_archive_resumptions_total", ())] == 0
    assert found[("zoomq_redis_up", ())] == 1


def test_an_unreachable_redis_is_a_zero_not_a_failed_scrape() -> None:
    dead = redis.Redis(port=1, socket_connect_timeout=0.2)
    found = scrape(RedisCollector(dead, Keys(), BrokerKeys(lists=()), ["events"]))
    assert found == {("zoomq_redis_up", ()): 0}
