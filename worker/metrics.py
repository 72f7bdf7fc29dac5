"""The worker's ``/metrics``: zoomq's counters (``zoomq.metrics``) and gauges read from Redis.

Served by the worker's main process on ``ZOOMQ_WORKER_METRICS_PORT`` (prometheus_client's
HTTP server, one daemon thread). With ``PROMETHEUS_MULTIPROC_DIR`` set (required for the
prefork pool, whose children count in their own processes) the page is the sum of every
process's files, collected at scrape time; otherwise it is this process's registry.

What several workers would each report alike is read from Redis when Prometheus scrapes,
not counted: the depth of each queue (every priority list kombu keeps for it), messages
held unacknowledged, parked tasks, entries in the dead-letter store, and the archive's
counters (``zoomq recordings stats``, kept in Redis by every worker and CLI download). Sum
those over workers with ``max``, not ``sum``. ``zoomq_redis_up`` is 0 when those reads
fail.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import redis
import structlog
from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from zoomq.archive.service import STAT_NAMES
from zoomq.runtime.keys import Keys
from zoomq.runtime.ledger import BrokerKeys

__all__ = ["MetricsServer", "RedisCollector", "clear_multiprocess_dir"]

log = structlog.get_logger("zoomq.worker")


class RedisCollector:
    """Gauges read from Redis at each scrape (one pipeline, a few cheap commands)."""

    def __init__(
        self, client: redis.Redis, keys: Keys, broker: BrokerKeys, queues: Iterable[str]
    ) -> None:
        self.client = client
        self.keys = keys
        self.broker = broker
        self.queues = tuple(sorted(set(queues)))

    def describe(self) -> list[Metric]:
        # Nothing up front: describing would make the registry call collect() at register
        # time, a Redis round trip before the worker has started.
        return []

    def collect(self) -> Iterator[Metric]:
        pipe = self.client.pipeline(transaction=False)
        for queue in self.queues:
            for key in self.broker.lists_of(queue):
                pipe.llen(key)
        pipe.hlen(self.broker.unacked)
        pipe.zcard(self.keys.parked)
        pipe.zcard(self.keys.dlq_index)
        pipe.hgetall(self.keys("archive", "stats"))
        up = GaugeMetricFamily("zoomq_redis_up", "1 if the worker's last reads from Redis worked.")
        try:
            replies: list[Any] = pipe.execute()
        except (redis.RedisError, OSError) as exc:
            log.warning("metrics.redis_failed", error=type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily(
            "zoomq_queue_depth",
            "Messages waiting in a queue (every priority list), read from Redis.",
            labels=["queue"],
        )
        steps = len(self.broker.steps)
        for i, queue in enumerate(self.queues):
            depth.add_metric([queue], sum(int(n) for n in replies[i * steps : (i + 1) * steps]))
        yield depth
        unacked, parked, dead, stats = replies[len(self.queues) * steps :]
        yield _gauge("zoomq_unacked_messages", "Messages workers hold unacknowledged.", unacked)
        yield _gauge("zoomq_parked_tasks", "Tasks parked until a later time, now.", parked)
        yield _gauge("zoomq_dead_letter_entries", "Entries in the dead-letter store, now.", dead)
        counts = {k.decode(): int(v) for k, v in (stats or {}).items()}
        meaning = {
            "files": "Recording files archived",
            "bytes": "Bytes archived (a resumed file counts what it fetched)",
            "failures": "Archive downloads that failed",
            "resumptions": "Archive downloads resumed from a partial file",
        }
        for name in STAT_NAMES:
            family = CounterMetricFamily(
                f"zoomq_archive_{name}", f"{meaning[name]}, all workers (Redis)."
            )
            family.add_metric([], counts.get(name, 0))
            yield family


def _gauge(name: str, documentation: str, value: Any) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=int(value))


def clear_multiprocess_dir(path: Path) -> int:
    """Remove a previous run's files (prometheus_client's rule: empty it before start)."""
    path.mkdir(parents=True, exist_ok=True)
    removed = 0
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)
        removed += 1
    return removed


class MetricsServer:
    """The HTTP server of ``/metrics`` in the worker's main process."""

    def __init__(self, port: int, host: str, collector: RedisCollector, multiproc: Path | None):
        self.port = port
        self.host = host
        if multiproc is None:
            self.registry = REGISTRY
        else:
            self.registry = CollectorRegistry()
            MultiProcessCollector(self.registry, path=str(multiproc))  # type: ignore[no-untyped-call]
        self.collector = collector
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> MetricsServer:
        self.registry.register(self.collector)
        self._server, self._thread = start_http_server(
            self.port, addr=self.host, registry=self.registry
        )
        log.info("metrics.serving", host=self.host, port=self.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.registry.unregister(self.collector)
