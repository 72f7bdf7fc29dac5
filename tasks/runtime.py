"""What a worker process holds between tasks: settings, Redis, Zoom clients, automations.

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

from zoomq.automations import Automations, load_automations
from zoomq.client.http import ZoomClient
from zoomq.errors import ConfigurationError
from zoomq.runtime.dlq import DeadLetterStore
from zoomq.runtime.idempotency import IdempotencyStore
from zoomq.runtime.keys import Keys
from zoomq.runtime.ledger import Ledger
from zoomq.runtime.parking import ParkingLot
from zoomq.settings import Connection, Settings

__all__ = ["Runtime", "get_runtime", "install_runtime"]

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
        self.scheduler: Any = None

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

    @property
    def redis(self) -> redis.Redis:
        self._check_fork()
        if self._redis is None:
            with self._lock:
                if self._redis is None:
                    self._redis = redis.Redis.from_url(
                        self.settings.redis_url,
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
        """Load and check the rules file and automation modules (raises naming the problem)."""
        return load_automations(
            self.config.rules_file,
            self.config.automation_modules,
            connections=set(self.connections()),
        )

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
            found = ZoomClient(self.settings, conn, redis_client=self.redis)
            cache[connection] = found
            with self._lock:
                self._clients.append(found)
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
        for client in clients:
            client.close()
        if self._redis is not None:
            self._redis.close()
            self._redis = None


def install_runtime(app: Celery, runtime: Runtime) -> Runtime:
    setattr(app, _ATTR, runtime)
    return runtime


def get_runtime(app: Celery) -> Runtime:
    found = getattr(app, _ATTR, None)
    if not isinstance(found, Runtime):
        raise ConfigurationError(
            "this Celery app has no zoomq runtime; build it with worker.app.create_celery"
        )
    return found
