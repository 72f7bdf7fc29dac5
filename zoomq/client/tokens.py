"""Where access tokens live: one cache shared by every zoomq process (Redis), or memory.

A token store keeps JSON-able ``Token`` values under a key and offers a short lock so
that, of N processes that find a token stale, one asks Zoom and the rest wait for it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from redis.exceptions import LockError

from zoomq.settings import DEFAULT_KEY_PREFIX

if TYPE_CHECKING:
    import redis

__all__ = ["MemoryTokenStore", "RedisTokenStore", "Token", "TokenStore"]


@dataclass(frozen=True)
class Token:
    """An access token (and, for OAuth apps, the refresh token that comes with it)."""

    access_token: str
    expires_at: float
    refresh_token: str | None = None
    scope: str | None = None
    api_url: str | None = None

    def fresh(self, now: float, margin: float) -> bool:
        return bool(self.access_token) and self.expires_at - margin > now

    def expired(self) -> Token:
        return replace(self, expires_at=0.0)

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, raw: str | bytes) -> Token:
        data: dict[str, Any] = json.loads(raw)
        return cls(**data)

    def __repr__(self) -> str:  # never print a token
        refresh = "yes" if self.refresh_token else "no"
        return f"Token(expires_at={self.expires_at!r}, refresh={refresh})"


class TokenStore(Protocol):
    """Get/set tokens by key, and a lock per key for the refresh."""

    def get(self, key: str) -> Token | None: ...
    def set(self, key: str, token: Token, ttl: float | None) -> None: ...
    def delete_if(self, key: str, access_token: str) -> None:
        """Drop the cached token only if it is still ``access_token`` (not already refreshed)."""
        ...

    def lock(self, key: str, ttl: float) -> AbstractContextManager[bool]:
        """A non-blocking lock: yields whether this caller holds it."""
        ...


_DELETE_IF = """
local raw = redis.call('GET', KEYS[1])
if raw and cjson.decode(raw)['access_token'] == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
"""


class RedisTokenStore:
    """Tokens in Redis, shared by every process of every host."""

    def __init__(self, client: redis.Redis, prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self._redis = client
        self._prefix = prefix
        self._delete_if = client.register_script(_DELETE_IF)

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    def get(self, key: str) -> Token | None:
        raw: Any = self._redis.get(self._key(key))
        return Token.loads(raw) if raw else None

    def set(self, key: str, token: Token, ttl: float | None) -> None:
        px = max(1, int(ttl * 1000)) if ttl is not None else None
        self._redis.set(self._key(key), token.dumps(), px=px)

    def delete_if(self, key: str, access_token: str) -> None:
        self._delete_if(keys=[self._key(key)], args=[access_token])

    @contextmanager
    def lock(self, key: str, ttl: float) -> Iterator[bool]:
        """redis-py's ``Lock`` (``SET NX PX`` with an owner token, released only by its owner)."""
        lock = self._redis.lock(self._key(f"lock:{key}"), timeout=ttl, blocking=False)
        acquired = lock.acquire()
        try:
            yield acquired
        finally:
            if acquired:
                with suppress(LockError):  # expired and maybe taken by another: theirs now
                    lock.release()


class MemoryTokenStore:
    """Tokens in this process only: for the CLI without Redis, and for tests."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: str) -> Token | None:
        return self._tokens.get(key)

    def set(self, key: str, token: Token, ttl: float | None) -> None:
        del ttl  # expiry is carried by the token itself
        self._tokens[key] = token

    def delete_if(self, key: str, access_token: str) -> None:
        with self._guard:
            current = self._tokens.get(key)
            if current is not None and current.access_token == access_token:
                del self._tokens[key]

    @contextmanager
    def lock(self, key: str, ttl: float) -> Iterator[bool]:
        del ttl
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        acquired = lock.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                lock.release()
