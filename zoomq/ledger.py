"""The task ledger: every task message sent, until its task has finished.

kombu's Redis transport pops a message (BRPOP) and only then records it as unacknowledged
(celery/celery#7950, celery/kombu#305): a worker killed between the two loses that message
for good. So zoomq keeps its own record. Sending a task records its message with a
the time it may start (now, or its ETA); finishing it (done, parked, dead-lettered) removes
the record; the worker's scheduler sends again every message unfinished a visibility
timeout after it could start — the same rule kombu applies to the messages it does
know about. A message sent twice is harmless: the task id is the idempotency key of every
side effect.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, cast

import redis

from zoomq.parking import TaskMessage

__all__ = ["DUE_KEY", "MESSAGES_KEY", "Ledger"]

DUE_KEY = "zoomq:ledger"
MESSAGES_KEY = "zoomq:ledger:messages"

# Entries that could start before ARGV[1] are stamped ARGV[2] (now: their clock starts
# again) and returned with their messages, at most ARGV[3]; two schedulers never re-send
# the same entry at once.
_CLAIM_OVERDUE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local message = redis.call('HGET', KEYS[2], id)
  if message then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    table.insert(out, message)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
"""


class Ledger:
    """Record sent task messages; forget finished ones; hand back overdue ones."""

    def __init__(self, client: redis.Redis, *, clock: Callable[[], float] = time.time) -> None:
        self.redis = client
        self.clock = clock
        self._claim = client.register_script(_CLAIM_OVERDUE)

    def record(self, message: TaskMessage, starts_at: float) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(MESSAGES_KEY, message.task_id, json.dumps(message.to_dict(), default=str))
        pipe.zadd(DUE_KEY, {message.task_id: starts_at})
        pipe.execute()

    def done(self, task_id: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(DUE_KEY, task_id)
        pipe.hdel(MESSAGES_KEY, task_id)
        pipe.execute()

    def claim_overdue(self, older_than: float, limit: int = 100) -> list[TaskMessage]:
        """Messages unfinished ``older_than`` seconds after they could start."""
        now = self.clock()
        raw: Any = self._claim(keys=[DUE_KEY, MESSAGES_KEY], args=[now - older_than, now, limit])
        return [TaskMessage.from_dict(json.loads(m)) for m in cast("list[bytes]", raw)]

    def count(self) -> int:
        return int(self.redis.zcard(DUE_KEY))
