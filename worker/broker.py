"""kombu's Redis transport with one fix: a channel whose connection is gone raises a
connection error, which Celery recovers from, instead of an ``AttributeError``.

When Redis goes away under a worker, Celery's consumer closes the broken connection
before reconnecting (``on_connection_error_after_connected``); closing its channel restores
the unacknowledged messages (``restore_unacked``), which needs a Redis client, which needs
the connection's parameters, which kombu reads from ``connection.client`` — already None by
then. The ``AttributeError`` ("'NoneType' object has no attribute 'hostname'") is not one
of the transport's connection errors, so ``ignore_errors`` lets it through, Celery calls it
unrecoverable and the worker exits (celery/celery#10205's family; kombu 5.7). Raised as
``redis.exceptions.ConnectionError``, it is ignored there: the consumer reconnects, and the
messages stay in kombu's unacked hash until its visibility-timeout sweep hands them out
again, as after any lost connection. A task finishing meanwhile logs its failed ack the
same way.

Celery uses these through ``broker_transport`` (``worker.app``); the URL still says
``redis://`` or ``sentinel://``.
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import redis as kombu_redis

__all__ = ["Channel", "SentinelChannel", "SentinelTransport", "Transport", "transport_for"]


def _check_open(channel: Any) -> None:
    if channel.connection.client is None:
        raise redis.exceptions.ConnectionError("the broker connection was closed")


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        _check_open(self)
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]


class SentinelChannel(kombu_redis.SentinelChannel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        _check_open(self)
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]


class Transport(kombu_redis.Transport):
    Channel = Channel


class SentinelTransport(kombu_redis.SentinelTransport):
    Channel = SentinelChannel


def transport_for(url: str) -> str:
    """The ``broker_transport`` for a broker URL: this module's class for its scheme."""
    name = "SentinelTransport" if url.startswith("sentinel://") else "Transport"
    return f"{__name__}:{name}"
