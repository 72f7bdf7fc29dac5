"""What a worker process holds between tasks: settings, Redis, Zoom clients, automations,
the archiver.

Built at the edge (``worker.app.create_celery``) and attached to the Celery app; tasks
reach it through ``get_runtime(self.app)``. Redis clients are per process (re-created
after a fork), Zoom clients per thread and connection: one httpx client per task slot
(PERF_BASELINES.md: a shared client collapses under contention).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import redis
from celery import Celery

from zoomq.archive.service import Archiver
from zoomq.archive.storage import open_storage
from zoomq.automations import Automations, load_automations
from zoomq.client.http import ZoomClient
from zoomq.errors import ConfigurationError
from zoomq.metrics import CLIENT_OBSERVER
from zoomq.redis_client import redis_client
from zoomq.runtime.dlq import DeadLetterStore
from zoomq.runtime.idempotency import IdempotencyStore
from zoomq.runtime.keys import Keys
from zoomq.runtime.ledger import Ledger
from zoomq.runtime.parking import ParkingLot
from zoomq.settings import Connection, Settings

__all__ = ["Runtime", "get_runtime", "install_runtime", "s3_options"]

_ATTR = "zoomq_runtime"


class Runtime:
    """Per-process resources of the worker, created on first use."""

    def __init__(
        self,
        settings: Settings,
        *,
        automations: Automations | None = None,
    ) -> None:
        self.settings = settings
        #: The queue layer's settings (retry budgets, time limits, ...): ``settings.queue``.
        self.config = settings.queue
        self.keys = Keys(settings.zoomq_key_prefix)
        self._automations = automations
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._redis: redis.Redis | None = None
        self._connections: dict[str, Connection] | None = None
        self._local = threading.local()
        self._clients: list[ZoomClient] = []
        self._archivers: list[Archiver] = []
        self.scheduler: Any = None
        #: The Celery app this runtime is installed on (``install_runtime``): the built-in
        #: automations send their tasks through it.
        self.app: Celery | None = None
        #: The archive's scheduled reconciliation (``worker.scheduler.SyncScheduler``).
        self.sync_scheduler: Any = None
        #: The worker's ``/metrics`` server (``worker.metrics.MetricsServer``), if on.
        self.metrics_server: Any = None

    # -- per process -----------------------------------------------------------------
    def _check_fork(self) -> None:
        if os.getpid() != self._pid:
            self.after_fork()

    def after_fork(self) -> None:
        """In a forked child: forget the parent's connections and clients."""
        self._pid = os.getpid()
        self._redis = None
        self._local = threading.local()
        self._clients = []
        self._archivers = []

    @property
    def redis(self) -> redis.Redis:
        self._check_fork()
        if self._redis is None:
            with self._lock:
                if self._redis is None:
                    self._redis = redis_client(
                        self.settings,
                        socket_connect_timeout=5,
                        socket_timeout=30,
                        health_check_interval=30,
                    )
        return self._redis

    @property
    def store(self) -> IdempotencyStore:
        return IdempotencyStore(self.redis, keys=self.keys, ttl=self.config.idempotency_ttl)

    @property
    def parking(self) -> ParkingLot:
        return ParkingLot(self.redis, keys=self.keys)

    @property
    def dlq(self) -> DeadLetterStore:
        return DeadLetterStore(self.redis, keys=self.keys)

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.redis, keys=self.keys)

    @property
    def automations(self) -> Automations:
        if self._automations is None:
            with self._lock:
                if self._automations is None:
                    self._automations = self.load_automations()
        return self._automations

    def load_automations(self) -> Automations:
        """Load and check the rules file and automation modules (raises naming the problem),
        after the built-in ones (the archive's, when ``ZOOMQ_ARCHIVE_ENABLED``)."""
        found = load_automations(
            self.config.rules_file,
            self.config.automation_modules,
            connections=set(self.connections()),
        )
        if not self.settings.archive.enabled or self.app is None:
            return found
        from tasks.downloads import builtin_automations  # imports this module

        return Automations([*builtin_automations(self.app), *found])

    def connections(self) -> dict[str, Connection]:
        if self._connections is None:
            self._connections = self.settings.connections()
        return self._connections

    # -- per thread --------------------------------------------------------------------
    def client(self, connection: str | None = None) -> ZoomClient:
        """This thread's ``ZoomClient`` for ``connection`` (None: the default one)."""
        self._check_fork()
        cache: dict[str | None, ZoomClient] | None = getattr(self._local, "clients", None)
        if cache is None:
            cache = self._local.clients = {}
        found = cache.get(connection)
        if found is None:
            conn = self._connection(connection)
            found = ZoomClient(
                self.settings, conn, redis_client=self.redis, observer=CLIENT_OBSERVER
            )
            cache[connection] = found
            with self._lock:
                self._clients.append(found)
        return found

    def archiver(self) -> Archiver:
        """This thread's ``Archiver``: ``ZOOMQ_ARCHIVE_DEST`` and this runtime's clients."""
        self._check_fork()
        found: Archiver | None = getattr(self._local, "archiver", None)
        if found is None:
            section = self.settings.archive
            storage = open_storage(
                section.dest, layout=section.layout, s3_options=s3_options(self.settings)
            )
            found = Archiver(self.settings, self.redis, self.client, storage)
            self._local.archiver = found
            with self._lock:
                self._archivers.append(found)
        return found

    def _connection(self, name: str | None) -> Connection:
        conns = self.connections()
        if name is None:
            return self.settings.connection(None)
        if name not in conns:
            known = ", ".join(sorted(conns)) or "none configured"
            raise ConfigurationError(f"unknown connection {name!r} (known: {known})")
        return conns[name]

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
            archivers, self._archivers = self._archivers, []
        for client in clients:
            client.close()
        for archiver in archivers:
            archiver.close()
        if self._redis is not None:
            self._redis.close()
            self._redis = None


def s3_options(settings: Settings) -> dict[str, Any]:
    """``S3Storage``'s options from ``settings.archive`` (credentials: boto3's own sources)."""
    section = settings.archive
    return {
        "endpoint_url": section.s3_endpoint_url,
        "region": section.s3_region,
        "part_size": section.s3_part_bytes,
    }


def install_runtime(app: Celery, runtime: Runtime) -> Runtime:
    setattr(app, _ATTR, runtime)
    runtime.app = app
    return runtime


def get_runtime(app: Celery) -> Runtime:
    found = getattr(app, _ATTR, None)
    if not isinstance(found, Runtime):
        raise ConfigurationError(
            "this Celery app has no zoomq runtime; build it with worker.app.create_celery"
        )
    return found
