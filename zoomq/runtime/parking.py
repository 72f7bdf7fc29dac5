"""Parked tasks: work that must wait longer than a Celery countdown may (daily limits).

A countdown task sits unacknowledged in the worker until its time; past the broker's
visibility timeout Redis would hand it out a second time. So a long wait is not a
countdown: the full task message goes into a sorted set scored by when it is due, and
the worker's scheduler sends it again then. Due entries are moved by a Lua script into
an in-flight set before sending, so two schedulers never send one entry twice and an
entry whose sender died is recovered, not lost.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

from zoomq.metrics import task_parked
from zoomq.runtime.keys import Keys
from zoomq.runtime.message import TaskMessage
from zoomq.runtime.redis_store import RedisStore

__all__ = ["ParkedTask", "ParkingLot"]

#: The key names under the default prefix (a ``ParkingLot`` uses those of its ``keys``).
PARKED_KEY = Keys().parked
MOVING_KEY = Keys().parked_moving
#: Entries that cannot be read back (kept for inspection, never retried in a loop).
BAD_KEY = Keys().parked_bad

# Move up to ARGV[2] entries due by ARGV[1] from the parked set to the in-flight set.
_CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZADD', KEYS[2], ARGV[1], member)
end
return due
"""
# Put in-flight entries claimed before ARGV[1] back, due at once (ARGV[2]).
_RECOVER = """
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for _, member in ipairs(stale) do
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZADD', KEYS[1], ARGV[2], member)
end
return #stale
"""


@dataclass(frozen=True)
class ParkedTask:
    """A task message waiting in the parking lot until ``due_at`` (epoch seconds)."""

    message: TaskMessage
    due_at: float
    parked_at: float
    reason: dict[str, Any] = field(default_factory=dict)
    #: The exact member in Redis, to remove it once sent.
    raw: str = field(default="", compare=False)

    def to_json(self) -> str:
        return json.dumps(
            {
                "message": self.message.to_dict(),
                "due_at": self.due_at,
                "parked_at": self.parked_at,
                "reason": self.reason,
            },
            separators=(",", ":"),
            sort_keys=True,
            default=str,
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> ParkedTask:
        text = raw.decode() if isinstance(raw, bytes) else raw
        data = json.loads(text)
        return cls(
            message=TaskMessage.from_dict(data["message"]),
            due_at=float(data["due_at"]),
            parked_at=float(data.get("parked_at", 0.0)),
            reason=dict(data.get("reason") or {}),
            raw=text,
        )


class ParkingLot(RedisStore):
    """Park task messages until a time; hand them back when due."""

    def _bind(self, keys: Keys) -> None:
        self.key = keys.parked
        self.moving_key = keys.parked_moving
        self.bad_key = keys.parked_bad
        self._claim_due = self.redis.register_script(_CLAIM_DUE)
        self._recover = self.redis.register_script(_RECOVER)

    def park(
        self, message: TaskMessage, due_at: float, reason: Mapping[str, Any] | None = None
    ) -> ParkedTask:
        entry = ParkedTask(message, due_at, self.clock(), dict(reason or {}))
        raw = entry.to_json()
        self.redis.zadd(self.key, {raw: due_at})
        task_parked(message.name)
        return replace(entry, raw=raw)

    def claim_due(self, now: float | None = None, limit: int = 100) -> list[ParkedTask]:
        """Atomically move entries due by ``now`` to the in-flight set and return them."""
        at = self.clock() if now is None else now
        members = self._claim_due(keys=[self.key, self.moving_key], args=[at, limit])
        claimed: list[ParkedTask] = []
        for member in members:
            try:
                claimed.append(ParkedTask.from_json(member))
            except (ValueError, KeyError, TypeError):
                # One unreadable entry must not hold back the rest of the batch forever.
                pipe = self.redis.pipeline(transaction=True)
                pipe.zrem(self.moving_key, member)
                pipe.zadd(self.bad_key, {member: at})
                pipe.execute()
        return claimed

    def sent(self, entry: ParkedTask) -> None:
        """The entry's message is back in its queue: forget it."""
        self.redis.zrem(self.moving_key, entry.raw)

    def recover(self, older_than: float, now: float | None = None) -> int:
        """Entries claimed more than ``older_than`` seconds ago (sender died) become due."""
        at = self.clock() if now is None else now
        return int(self._recover(keys=[self.key, self.moving_key], args=[at - older_than, at]))

    def entries(self, limit: int = 100) -> list[ParkedTask]:
        """Parked entries, soonest first."""
        members = cast("list[bytes]", self.redis.zrange(self.key, 0, limit - 1))
        return [ParkedTask.from_json(m) for m in members]

    def count(self) -> int:
        return int(self.redis.zcard(self.key))

    def in_flight(self) -> int:
        return int(self.redis.zcard(self.moving_key))
