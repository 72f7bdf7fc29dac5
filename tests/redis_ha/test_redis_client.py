"""``zoomq.redis_client``: what a REDIS_URL names, and the clients and broker built from it."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio as aredis
from pydantic import ValidationError
from redis.sentinel import SentinelConnectionPool

from tests.redis_ha.conftest import MASTER_NAME, SentinelGroup
from worker.app import create_celery
from zoomq.errors import ConfigurationError, QueueUnavailable
from zoomq.redis_client import (
    SentinelTarget,
    async_redis_client,
    celery_broker,
    redis_client,
    sentinel_target,
    unreachable,
)
from zoomq.runtime import BatchEnqueuer
from zoomq.settings import Settings


def settings(url: str, master: str | None = "mymaster") -> Settings:
    return Settings(_env_file=None, redis_url=url, zoomq_redis_sentinel_master=master)


def test_a_sentinel_url_is_read_as_kombu_reads_it() -> None:
    """Items joined by ';'; the first one's password and database are the master's."""
    found = sentinel_target(
        settings("sentinel://:p%40ss@10.0.0.1:26379/2;sentinel://10.0.0.2;sentinel://h3:26380")
    )
    assert found == SentinelTarget(
        sentinels=(("10.0.0.1", 26379), ("10.0.0.2", 26379), ("h3", 26380)),
        master="mymaster",
        db=2,
        password="p@ss",
    )
    assert sentinel_target(settings("redis://127.0.0.1:6379/0")) is None


def test_celery_gets_the_url_and_the_master_name() -> None:
    url = "sentinel://10.0.0.1:26379;sentinel://10.0.0.2:26379"
    assert celery_broker(settings(url)) == (url, {"master_name": "mymaster"})
    app = create_celery(settings(url))
    assert app.conf.broker_url == url
    assert app.conf.broker_transport_options["master_name"] == "mymaster"
    assert app.conf.broker_transport_options["visibility_timeout"] == 3600
    assert celery_broker(settings("redis://h:1/0")) == ("redis://h:1/0", {})


def test_a_sentinel_url_without_a_master_name_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValidationError, match="ZOOMQ_REDIS_SENTINEL_MASTER"):
        settings("sentinel://10.0.0.1:26379", master=None)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("sentinel://10.0.0.1:26379;redis://10.0.0.2:6379", "every ';'-separated item"),
        ("sentinel://10.0.0.1:26379/zero", "the database must be a number"),
        ("sentinel://10.0.0.1:port", "bad port"),
    ],
)
def test_a_malformed_sentinel_url_names_what_is_wrong(url: str, named: str) -> None:
    """Refused as the settings are read (the CLI's exit 2 naming REDIS_URL), not when used."""
    with pytest.raises(ValidationError, match=named) as caught:
        settings(url)
    assert caught.value.errors()[0]["loc"] == ("redis_url",)


def test_an_unreachable_sentinel_set_is_said_in_a_sentence() -> None:
    """redis-py's "no master" text (a repr of every Sentinel client) becomes one line."""
    conf = settings("sentinel://127.0.0.1:1;sentinel://127.0.0.1:2", master="m")
    client = redis_client(conf, socket_connect_timeout=0.2)
    with pytest.raises(redis.RedisError) as caught:
        client.ping()
    client.close()
    assert unreachable(conf, caught.value) == (
        "no Sentinel (127.0.0.1:1, 127.0.0.1:2) names a master 'm'"
    )
    with pytest.raises(ConfigurationError, match="ZOOMQ_REDIS_SENTINEL_MASTER"):
        sentinel_target(Settings.model_construct(redis_url="sentinel://h:1"))


def test_clients_ask_the_sentinels_for_the_master(sentinel_group: SentinelGroup) -> None:
    """Sync and asyncio clients from a Sentinel URL reach the master (writes succeed)."""
    conf = settings(sentinel_group.url, MASTER_NAME)
    client = redis_client(conf, socket_timeout=2)
    try:
        assert isinstance(client.connection_pool, SentinelConnectionPool)
        client.set("k", "v")
        assert client.info("server")["tcp_port"] == sentinel_group.master_port
    finally:
        client.close()

    async def check() -> None:
        aclient = async_redis_client(conf, socket_timeout=2)
        try:
            assert await aclient.get("k") == b"v"
            assert (await aclient.info("server"))["tcp_port"] == sentinel_group.master_port
        finally:
            await aclient.aclose()

    asyncio.run(check())


def test_wait_replicas_fails_a_round_no_replica_confirms(redis_url: str) -> None:
    """Without a replica to confirm, WAIT 1 turns every round into QueueUnavailable (503)."""

    async def run() -> None:
        client = aredis.Redis.from_url(redis_url)
        enqueuer = BatchEnqueuer(client, timeout=0.3, wait_replicas=1)
        await enqueuer.start()
        try:
            with pytest.raises(QueueUnavailable):
                await enqueuer.enqueue("q", b"m", dedup_key="d", ttl=60)
        finally:
            await enqueuer.stop()
            await client.aclose()

    asyncio.run(run())
