"""Everything one receiver process holds: configuration, endpoints, clients, the writer."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from receiver.config import WebhookEndpoint, build_endpoints
from receiver.dispatch import EventDispatcher
from receiver.metrics import ReceiverMetrics
from zoomq.clock import Clock
from zoomq.redis_client import async_redis_client, redis_client
from zoomq.runtime import BatchEnqueuer
from zoomq.runtime.keys import Keys
from zoomq.settings import Connection, ReceiverSettings, Settings

__all__ = ["GC_YOUNG_THRESHOLD", "ReceiverRuntime"]

#: Net allocations that start a young-generation collection, instead of Python's 700.
#: Some 64 requests waiting for Redis hold a few thousand objects, and each round that
#: answers a batch of them swings that count by more than 700: at the default the cycle
#: collector ran every ~35 requests, ~5-10 µs of CPU per request (bench_receiver). A
#: collection that does run scans at most this many objects: about a millisecond.
GC_YOUNG_THRESHOLD = 10_000


class ReceiverRuntime:
    """Built by ``create_app``; its clients and writer task live for the app's lifespan."""

    def __init__(self, settings: Settings, config: ReceiverSettings, clock: Clock) -> None:
        self.settings = settings
        #: ``settings.receiver``, or what ``create_app`` was given instead.
        self.config = config
        self.keys = Keys(settings.zoomq_key_prefix)
        self.clock = clock
        #: Read once: a changed connections file takes effect on restart.
        self.connections: dict[str, Connection] = settings.connections()
        self.endpoints: dict[str, WebhookEndpoint] = build_endpoints(
            settings, config, clock, self.connections
        )
        self.metrics = ReceiverMetrics()
        self.redis: aredis.Redis | None = None
        self.enqueuer: BatchEnqueuer | None = None
        self.dispatcher = EventDispatcher(config, self.keys, clock, self.metrics)
        # For the OAuth callback's token exchange, which is synchronous code in a thread.
        self.sync_redis: redis.Redis | None = None
        self.http: httpx.Client | None = None

    async def start(self) -> None:
        config = self.config
        self.redis = async_redis_client(
            self.settings,
            # Fail fast and let the request answer 503: Zoom retries, we need not. One
            # immediate retry gets past a pooled connection that died with a Redis restart
            # (the enqueuer's own connection does the same by itself).
            socket_connect_timeout=config.enqueue_timeout,
            socket_timeout=max(config.enqueue_timeout, config.readiness_timeout) * 2,
            retry=Retry(NoBackoff(), 1),
        )
        self.enqueuer = BatchEnqueuer(
            self.redis,
            timeout=config.enqueue_timeout,
            max_batch=config.batch_size,
            max_pending=config.max_pending,
            on_batch=self.metrics.observe_batch,
            keys=self.keys,
            wait_replicas=config.wait_replicas,
        )
        await self.enqueuer.start()
        self.metrics.pending = self.enqueuer.pending_count
        self.dispatcher.enqueuer = self.enqueuer
        self.sync_redis = redis_client(
            self.settings, socket_connect_timeout=2.0, socket_timeout=5.0
        )
        self.http = httpx.Client(
            timeout=httpx.Timeout(
                self.settings.http.timeout, connect=self.settings.http.connect_timeout
            )
        )
        if config.gc_freeze:
            gc.collect()
            gc.freeze()
            gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])

    async def stop(self) -> None:
        self.dispatcher.enqueuer = None
        if self.enqueuer is not None:
            await self.enqueuer.stop()
            self.enqueuer = None
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None
        if self.sync_redis is not None:
            self.sync_redis.close()
            self.sync_redis = None
        if self.http is not None:
            self.http.close()
            self.http = None

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """Starlette lifespan: start on startup, drain and close on shutdown."""
        del app
        await self.start()
        try:
            yield
        finally:
            await self.stop()
