"""The dead-letter store: tasks that failed for good, kept for inspection and replay.

A task lands here when its error must never be retried (``give_up`` in
``zoomq.errors.HANDLING``: bad input, not found, no permission) or when its retries ran
out. Each entry keeps what is needed to run it again — task name, args, kwargs, id — with
the connection, the error (``ZoomError.to_dict()``), the attempts made and the first and
last failure times.
Replay sends it again with a fresh retry budget and removes it.

Redis layout: a hash ``id → JSON`` and a sorted set of ids by last failure time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from zoomq.logs import redact_value
from zoomq.metrics import dead_lettered
from zoomq.runtime.keys import Keys
from zoomq.runtime.message import TaskMessage
from zoomq.runtime.redis_store import RedisStore

__all__ = ["UNDECODABLE", "DeadLetter", "DeadLetterStore"]

#: The key names under the default prefix (a store uses those of its ``keys``).
ENTRIES_KEY = Keys().dlq_entries
INDEX_KEY = Keys().dlq_index

#: Sends a message again (to Celery); the store stays free of queue code.
Send = Callable[[TaskMessage], None]

#: ``error["type"]`` of a raw message the worker could not decode: kept for inspection
#: (``error["raw"]``), never replayed, since there is no task to send.
UNDECODABLE = "UndecodableMessage"


@dataclass(frozen=True)
class DeadLetter:
    """One task that failed for good."""

    id: str
    message: TaskMessage
    connection: str | None
    error: dict[str, Any]
    attempts: int
    first_at: float
    last_at: float
    #: How many times this task id died (replayed and failed again counts twice).
    deaths: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.message.name,
            "task_id": self.message.task_id,
            "args": self.message.args,
            "kwargs": self.message.kwargs,
            "queue": self.message.queue,
            "retries": self.message.attempts,
            "connection": self.connection,
            "error": self.error,
            "attempts": self.attempts,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "deaths": self.deaths,
        }

    def redacted(self) -> dict[str, Any]:
        """``to_dict`` with Zoom's secrets redacted, for every view but ``--raw``.

        The raw body of an undecodable message is scrubbed as text only when it is JSON;
        any other body (pickle, YAML, bytes) is shown as its size and digest, since no
        text scrubber can find a token inside it.
        """
        data: dict[str, Any] = redact_value(self.to_dict())
        raw = self.error.get("raw") if self.error.get("type") == UNDECODABLE else None
        if not isinstance(raw, dict):
            return data
        body = raw.get("body")
        if isinstance(body, str) and "json" not in str(raw.get("content_type") or ""):
            encoded = body.encode("utf-8", "surrogateescape")
            digest = hashlib.sha256(encoded).hexdigest()
            data["error"]["raw"]["body"] = f"[{len(encoded)} bytes, sha256 {digest}; see --raw]"
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeadLetter:
        # The entry keeps the message's fields flat, with Celery's names for two of them.
        message = TaskMessage.from_dict(
            {**data, "name": data["task"], "attempts": data.get("retries")}
        )
        return cls(
            id=str(data["id"]),
            message=message,
            connection=data.get("connection"),
            error=dict(data.get("error") or {}),
            attempts=int(data.get("attempts") or 0),
            first_at=float(data.get("first_at") or 0.0),
            last_at=float(data.get("last_at") or 0.0),
            deaths=int(data.get("deaths") or 1),
        )


# Remove an entry only if it is still the one that was replayed: a replayed task that
# fails again at once writes a new entry under the same id, which must stay.
_REMOVE_IF_SAME = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
return 0
"""


class DeadLetterStore(RedisStore):
    """Add, list, show, replay and purge dead-lettered tasks."""

    def _bind(self, keys: Keys) -> None:
        self.entries_key = keys.dlq_entries
        self.index_key = keys.dlq_index
        self._remove_if_same = self.redis.register_script(_REMOVE_IF_SAME)

    def add(
        self,
        message: TaskMessage,
        error: Mapping[str, Any],
        *,
        connection: str | None = None,
        attempts: int | None = None,
        first_at: float | None = None,
    ) -> DeadLetter:
        """Store ``message`` as dead; a task id already here keeps its first time."""
        now = self.clock()
        entry_id = message.task_id
        previous = self.get(entry_id)
        entry = DeadLetter(
            id=entry_id,
            message=message,
            connection=connection,
            error=dict(error),
            attempts=attempts if attempts is not None else message.attempts + 1,
            first_at=previous.first_at if previous else (first_at or now),
            last_at=now,
            deaths=previous.deaths + 1 if previous else 1,
        )
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.entries_key, entry_id, json.dumps(entry.to_dict(), default=str))
        pipe.zadd(self.index_key, {entry_id: now})
        pipe.execute()
        dead_lettered(message.name)
        return entry

    def add_undecodable(
        self,
        *,
        body: bytes | str | None,
        content_type: str | None,
        content_encoding: str | None,
        headers: Mapping[str, Any] | None,
        properties: Mapping[str, Any] | None,
        error: BaseException,
        queue: str | None = None,
    ) -> DeadLetter:
        """Store a message the worker could not decode, as it arrived (body as text).

        Its id is the task id in its headers when it has one, else its delivery tag.
        """
        headers = dict(headers or {})
        properties = dict(properties or {})
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        task_id = headers.get("id") or properties.get("delivery_tag") or f"raw-{self.clock()}"
        message = TaskMessage(
            name=str(headers.get("task") or "?"),
            args=[],
            kwargs={},
            task_id=str(task_id),
            queue=queue,
        )
        raw = {
            "body": text,
            "content_type": content_type,
            "content_encoding": content_encoding,
            "headers": headers,
            "properties": properties,
        }
        detail = f"{type(error).__name__}: {error}"
        return self.add(
            message,
            {"type": UNDECODABLE, "message": detail[:500], "raw": raw},
            attempts=0,
        )

    def get(self, entry_id: str) -> DeadLetter | None:
        raw = self.redis.hget(self.entries_key, entry_id)
        return None if raw is None else DeadLetter.from_dict(json.loads(raw))

    def entries(self, limit: int = 50, offset: int = 0) -> list[DeadLetter]:
        """Entries, most recent failure first."""
        ids = cast("list[bytes]", self.redis.zrevrange(self.index_key, offset, offset + limit - 1))
        if not ids:
            return []
        raws = self.redis.hmget(self.entries_key, ids)
        return [DeadLetter.from_dict(json.loads(r)) for r in raws if r is not None]

    def count(self) -> int:
        return int(self.redis.zcard(self.index_key))

    def remove(self, entry_id: str) -> bool:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(self.entries_key, entry_id)
        pipe.zrem(self.index_key, entry_id)
        removed, _ = pipe.execute()
        return bool(removed)

    def purge(self) -> int:
        """Delete every entry; returns how many there were."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.zcard(self.index_key)
        pipe.delete(self.entries_key, self.index_key)
        count, _ = pipe.execute()
        return int(count)

    def replay(self, entry_id: str, send: Send) -> DeadLetter | None:
        """Send the entry again with a fresh retry budget, then remove it.

        An undecodable message (``UNDECODABLE``) is not sent and stays: None, as for an
        unknown id.

        Sent before removed: a crash in between leaves the entry here, and sending it
        twice is harmless because the task id is its idempotency key. Only the entry that
        was sent is removed: if the replayed task has already died again, its new entry stays.
        """
        raw = self.redis.hget(self.entries_key, entry_id)
        if raw is None:
            return None
        entry = DeadLetter.from_dict(json.loads(raw))
        if entry.error.get("type") == UNDECODABLE:  # no task to send: it stays for inspection
            return None
        send(entry.message.with_attempts(0))
        self._remove_if_same(keys=[self.entries_key, self.index_key], args=[entry_id, raw])
        return entry

    def replay_all(self, send: Send) -> list[DeadLetter]:
        """Replay every entry, oldest failure first."""
        replayed: list[DeadLetter] = []
        for raw_id in self.redis.zrange(self.index_key, 0, -1):
            entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            entry = self.replay(entry_id, send)
            if entry is not None:
                replayed.append(entry)
        return replayed
