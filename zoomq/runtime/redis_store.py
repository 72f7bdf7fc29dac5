"""The shape every worker store in Redis shares: a client, its key names and a clock.

The dead-letter store, the ledger and the parking lot differ in what they keep, not in
how they are built: one client, key names taken from one ``Keys`` (so one prefix), and
an injected clock so tests decide what "now" is.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from zoomq.runtime.keys import Keys

__all__ = ["RedisStore"]


class RedisStore:
    """A store in Redis: ``redis``, ``clock``, and the keys and scripts ``_bind`` sets."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        keys: Keys = Keys(),  # noqa: B008 - frozen, so one shared default is safe
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = client
        self.clock = clock
        self._bind(keys)

    def _bind(self, keys: Keys) -> None:
        """Take this store's key names from ``keys`` and register its Lua scripts."""
