"""Functions run in child processes by the client tests (spawned, so importable)."""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis

from zoomq.client import ZoomClient
from zoomq.settings import Settings


def settings_for(api_base_url: str, token_url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "zoom_account_id": "sandbox-account",
        "zoom_client_id": "sandbox-client",
        "zoom_client_secret": "sandbox-secret",
        "zoom_api_base_url": api_base_url,
        "zoom_oauth_token_url": token_url,
        "zoom_api_hosts": ("127.0.0.1",),
    }
    values.update(extra)
    return Settings(_env_file=None, **values)


def hammer(
    settings_json: str,
    connection_json: str,
    redis_url: str,
    threads: int,
    calls: int,
    start: Any,
    out: mp.Queue,  # type: ignore[type-arg]
) -> None:
    """One process: ``threads`` threads share one client, each making ``calls`` requests."""
    from zoomq.settings import Connection

    settings = Settings.model_validate_json(settings_json)
    connection = Connection.model_validate_json(connection_json)
    r = redis.Redis.from_url(redis_url)
    client = ZoomClient(settings, connection, redis_client=r)
    start.wait(30)
    errors: list[str] = []

    def work(_: int) -> None:
        for _ in range(calls):
            try:
                client.request("GET", "/users/me")
            except Exception as exc:  # reported to the parent, which asserts on it
                errors.append(repr(exc))

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    client.close()
    out.put(errors)
