"""Every Redis client zoomq opens, built from ``REDIS_URL`` in one place.

``REDIS_URL`` names one server (``redis://``, ``rediss://``, ``unix://``) or, as Celery
and kombu spell it, a set of Sentinels: ``sentinel://[:password@]host:26379[/db]`` items
joined by ``;``, the master's name in ``ZOOMQ_REDIS_SENTINEL_MASTER``. A Sentinel client
is redis-py's ``Sentinel(...).master_for(name)``: its pool asks the Sentinels for the
master on every new connection, and a connection that finds its server demoted to a
replica (``READONLY``) is dropped, so each client follows a failover by itself. The
Celery broker gets the same URL and the master's name as kombu's ``master_name``
transport option (``celery_broker``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import redis
import redis.asyncio as aredis
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.sentinel import MasterNotFoundError, Sentinel

from zoomq.errors import ConfigurationError
from zoomq.settings import Settings, sentinel_items

__all__ = [
    "SentinelTarget",
    "async_redis_client",
    "celery_broker",
    "redis_client",
    "sentinel_target",
    "unreachable",
]


@dataclass(frozen=True)
class SentinelTarget:
    """What a ``sentinel://`` REDIS_URL names: the Sentinels, the master, its database."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None

    def connection_kwargs(self) -> dict[str, Any]:
        """Options of the connections to the master (the Sentinels get only socket_*)."""
        found: dict[str, Any] = {"db": self.db}
        if self.username:
            found["username"] = self.username
        if self.password:
            found["password"] = self.password
        return found


def sentinel_target(settings: Settings) -> SentinelTarget | None:
    """The Sentinels ``settings.redis_url`` names; None for a plain server URL.

    Read as kombu reads it: the first item's credentials and database are the master's.
    """
    url = settings.redis_url
    if not url.startswith("sentinel://"):
        return None
    master = settings.zoomq_redis_sentinel_master
    if not master:
        raise ConfigurationError("REDIS_URL names Sentinels: set ZOOMQ_REDIS_SENTINEL_MASTER")
    try:
        items = sentinel_items(url)
    except ValueError as exc:
        raise ConfigurationError(f"REDIS_URL: {exc}") from exc
    first = items[0][0]
    return SentinelTarget(
        sentinels=tuple((str(parts.hostname), port) for parts, port in items),
        master=master,
        db=int(first.path.strip("/") or 0),
        username=unquote(first.username) if first.username else None,
        password=unquote(first.password) if first.password else None,
    )


def unreachable(settings: Settings, exc: BaseException) -> str:
    """What to tell an operator about a Redis error (redis-py's "no master" text carries
    the repr of every Sentinel client)."""
    target = sentinel_target(settings)
    if target is not None and isinstance(exc, MasterNotFoundError):
        asked = ", ".join(f"{host}:{port}" for host, port in target.sentinels)
        return f"no Sentinel ({asked}) names a master {target.master!r}"
    return str(exc)


class _SentinelRedis(redis.Redis):
    """A Sentinel master's client; closing it closes its connections to the Sentinels."""

    zoomq_sentinel: Sentinel | None = None

    def close(self) -> None:
        super().close()
        for client in self.zoomq_sentinel.sentinels if self.zoomq_sentinel else ():
            client.close()


class _AsyncSentinelRedis(aredis.Redis):
    """The same for asyncio."""

    zoomq_sentinel: AsyncSentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        for client in self.zoomq_sentinel.sentinels if self.zoomq_sentinel else ():
            await client.aclose()


def redis_client(settings: Settings, **options: Any) -> redis.Redis:
    """A client of zoomq's Redis: ``redis.Redis.from_url`` or a Sentinel's master.

    ``options`` are redis-py's (socket timeouts, retry, health checks); the Sentinels are
    asked with the same socket timeouts.
    """
    target = sentinel_target(settings)
    if target is None:
        return redis.Redis.from_url(settings.redis_url, **options)
    sockets = {k: v for k, v in options.items() if k.startswith("socket_")}
    # redis-py leaves Sentinel unannotated.
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=sockets)  # type: ignore[no-untyped-call]
    client: _SentinelRedis = sentinel.master_for(  # type: ignore[no-untyped-call]
        target.master, redis_class=_SentinelRedis, **target.connection_kwargs(), **options
    )
    client.zoomq_sentinel = sentinel
    return client


def async_redis_client(settings: Settings, **options: Any) -> aredis.Redis:
    """``redis_client`` for asyncio (the receiver)."""
    target = sentinel_target(settings)
    if target is None:
        return aredis.Redis.from_url(settings.redis_url, **options)
    sockets = {k: v for k, v in options.items() if k.startswith("socket_")}
    sentinel = AsyncSentinel(list(target.sentinels), sentinel_kwargs=sockets)  # type: ignore[no-untyped-call]
    client: _AsyncSentinelRedis = sentinel.master_for(
        target.master, redis_class=_AsyncSentinelRedis, **target.connection_kwargs(), **options
    )
    client.zoomq_sentinel = sentinel
    return client


def celery_broker(settings: Settings) -> tuple[str, dict[str, Any]]:
    """Celery's broker URL and the transport options it needs besides zoomq's own.

    kombu takes the ``sentinel://...;sentinel://...`` URL as it is, and the master's name
    as ``master_name``.
    """
    target = sentinel_target(settings)
    if target is None:
        return settings.redis_url, {}
    return settings.redis_url, {"master_name": target.master}
