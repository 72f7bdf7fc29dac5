"""The token store's refresh lock in Redis: redis-py's ``Lock`` under zoomq's key name."""

from __future__ import annotations

import redis

from zoomq.client import RedisTokenStore


def test_the_lock_is_one_key_with_a_ttl_and_excludes_a_second_holder(
    redis_client: redis.Redis,
) -> None:
    """``zoomq:lock:<key>`` exists with the ttl while held; a second caller does not get it."""
    store = RedisTokenStore(redis_client)
    with store.lock("token:default", 30.0) as held:
        assert held
        assert 29_000 < redis_client.pttl("zoomq:lock:token:default") <= 30_000
        with store.lock("token:default", 30.0) as second:
            assert not second
        assert redis_client.exists("zoomq:lock:token:default")  # the loser released nothing
    assert not redis_client.exists("zoomq:lock:token:default")


def test_an_expired_lock_is_not_released_over_its_next_holder(redis_client: redis.Redis) -> None:
    """A holder whose lock expired and was taken leaves the new holder's lock alone."""
    first = RedisTokenStore(redis_client).lock("token:default", 30.0)
    second = RedisTokenStore(redis_client).lock("token:default", 30.0)
    assert first.__enter__()
    redis_client.delete("zoomq:lock:token:default")  # as if it expired
    assert second.__enter__()
    taken = redis_client.get("zoomq:lock:token:default")
    first.__exit__(None, None, None)  # no error, and not the second holder's key
    assert redis_client.get("zoomq:lock:token:default") == taken
    second.__exit__(None, None, None)
    assert not redis_client.exists("zoomq:lock:token:default")
