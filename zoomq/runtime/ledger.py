"""The task ledger: every task message sent, until its task has started.

kombu's Redis transport pops a message (BRPOP) and only then records it as unacknowledged
(celery/celery#7950, celery/kombu#305): a worker killed between the two loses that message
for good. So zoomq keeps its own record. Sending a task records its message with the time
it may start (now, or its ETA) — ``Ledger.record`` for Celery's sends, the receiver's
enqueue script for the event messages it pushes, in the same call as the push. The task's
start removes the record: from then on the message is in kombu's unacknowledged set, whose
visibility-timeout restore covers it.

A record still there a visibility timeout after it could start is not re-sent on that
ground alone: a backlog is old too. ``Ledger.sweep`` looks for its task id in the queue
lists (LRANGE in chunks, head to tail: LPUSH only shifts items toward the tail and BRPOP
takes from it, so an item present all along is never skipped) and in kombu's unacked hash
(HSCAN). Found anywhere, the record's clock starts again. Found nowhere, it is marked
suspect — it may only have been in flight between pop and record — and re-sent only if a
later sweep, begun after the mark, finds it nowhere either and it has not started by then;
that last check and the claim are one Lua call, so a task that started meanwhile is never
re-sent and two schedulers never re-send one record twice.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

from zoomq.runtime.keys import Keys
from zoomq.runtime.message import TaskMessage
from zoomq.runtime.redis_store import RedisStore

__all__ = ["DUE_KEY", "MESSAGES_KEY", "SUSPECT_KEY", "BrokerKeys", "Ledger", "SweepResult"]

#: The key names under the default prefix (a ``Ledger`` uses those of its ``keys``).
DUE_KEY = Keys().ledger_due
MESSAGES_KEY = Keys().ledger_messages
#: Records found nowhere by a sweep: task id -> when (epoch seconds).
SUSPECT_KEY = Keys().ledger_suspect

#: Items per LRANGE / HSCAN round trip.
_CHUNK = 500

# KEYS: due, messages, suspect. ARGV: now, mark_before, due_before, then pairs (id, '1' if
# found else '0'). A found record's clock starts again. A missing one is dropped if it has
# started (no message), left alone if no longer overdue (re-sent or re-recorded since the
# scan began), claimed — returned and restamped — if marked suspect before ARGV[2], and
# marked suspect otherwise.
_SETTLE = """
local now, before, due_before = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 4, #ARGV, 2 do
  local id = ARGV[i]
  if ARGV[i + 1] == '1' then
    redis.call('ZADD', KEYS[1], 'XX', now, id)
    redis.call('HDEL', KEYS[3], id)
  else
    local message = redis.call('HGET', KEYS[2], id)
    local due = redis.call('ZSCORE', KEYS[1], id)
    if not message or not due then
      redis.call('ZREM', KEYS[1], id)
      redis.call('HDEL', KEYS[2], id)
      redis.call('HDEL', KEYS[3], id)
    elseif tonumber(due) <= due_before then
      local marked = redis.call('HGET', KEYS[3], id)
      if marked and tonumber(marked) <= before then
        redis.call('ZADD', KEYS[1], now, id)
        redis.call('HDEL', KEYS[3], id)
        out[#out + 1] = message
      elseif not marked then
        redis.call('HSET', KEYS[3], id, now)
      end
    end
  end
end
return out
"""


@dataclass(frozen=True)
class BrokerKeys:
    """Where kombu's Redis transport keeps messages: queue lists (every priority) and unacked.

    ``lists`` are the worker's own queues; a record naming another queue (a task sent with
    ``queue=``, consumed by some other worker) has that queue's lists scanned too, named
    the way kombu names them (``prefix`` + queue, then ``sep`` + priority step).
    """

    lists: tuple[str, ...]
    unacked: str = "unacked"
    prefix: str = ""
    sep: str = "\x06\x16"
    steps: tuple[int, ...] = (0, 3, 6, 9)

    def lists_of(self, queue: str) -> tuple[str, ...]:
        """Every priority list of ``queue``."""
        return tuple(
            self.prefix + (queue if step == 0 else f"{queue}{self.sep}{step}")
            for step in self.steps
        )

    def with_queues(self, queues: Iterable[str]) -> BrokerKeys:
        """These keys plus the lists of ``queues``."""
        extra = [k for q in sorted(set(queues)) for k in self.lists_of(q) if k not in self.lists]
        return replace(self, lists=(*self.lists, *extra)) if extra else self


@dataclass(frozen=True)
class SweepResult:
    """One sweep: overdue records looked for, found, found nowhere, and those to re-send."""

    checked: int = 0
    found: int = 0
    missing: int = 0
    resend: list[TaskMessage] = field(default_factory=list)
    #: False when a queue list kept growing faster than it could be read: nothing decided.
    conclusive: bool = True


def _celery_task_id(payload: Any) -> str | None:
    """``headers.id`` of a protocol-2 Celery message (a dict), if it has one."""
    if isinstance(payload, dict):
        headers = payload.get("headers")
        if isinstance(headers, dict) and isinstance(headers.get("id"), str):
            return str(headers["id"])
    return None


def _from_celery(payload: Mapping[str, Any]) -> TaskMessage:
    """A TaskMessage from a protocol-2 Celery message (as the receiver writes them)."""
    headers = payload["headers"]
    properties = payload.get("properties") or {}
    args, kwargs, _ = json.loads(base64.b64decode(payload["body"]))
    queue = (properties.get("delivery_info") or {}).get("routing_key")
    return TaskMessage(
        name=str(headers["task"]),
        args=list(args),
        kwargs=dict(kwargs),
        task_id=str(headers["id"]),
        attempts=int(headers.get("retries") or 0),
        queue=queue if isinstance(queue, str) and queue else None,
    )


def _decode(raw: bytes) -> TaskMessage:
    data = json.loads(raw)
    return _from_celery(data) if "headers" in data else TaskMessage.from_dict(data)


class Ledger(RedisStore):
    """Record sent task messages; forget started ones; re-send those provably lost."""

    def _bind(self, keys: Keys) -> None:
        self.due_key = keys.ledger_due
        self.messages_key = keys.ledger_messages
        self.suspect_key = keys.ledger_suspect
        self._settle = self.redis.register_script(_SETTLE)

    def record(self, message: TaskMessage, starts_at: float) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.messages_key, message.task_id, json.dumps(message.to_dict(), default=str))
        pipe.zadd(self.due_key, {message.task_id: starts_at})
        pipe.hdel(self.suspect_key, message.task_id)
        pipe.execute()

    def started(self, task_id: str) -> None:
        """The task has started: kombu's unacked set holds its message from here on."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(self.due_key, task_id)
        pipe.hdel(self.messages_key, task_id)
        pipe.hdel(self.suspect_key, task_id)
        pipe.execute()

    def sweep(
        self, older_than: float, broker: BrokerKeys, *, limit: int = 1000, settle: float = 1.0
    ) -> SweepResult:
        """Look for records unstarted ``older_than`` s after they could start; claim lost ones.

        A record is claimed (returned in ``resend``) when this sweep and an earlier one, which
        marked it suspect at least ``settle`` s before this one began, both found its task id
        in no queue list and not in the unacked hash. The caller sends the claimed messages.
        """
        due_before = self.clock() - older_than
        ids = self.overdue(due_before, limit)
        if not ids:
            return SweepResult()
        named = {m.queue for m in self.entries(ids) if m is not None and m.queue}
        broker = broker.with_queues(named)
        began = self.clock()
        present = self.present(set(ids), broker)
        if present is None:
            return SweepResult(checked=len(ids), conclusive=False)
        resend = self.settle(ids, present, began - settle, due_before)
        found = sum(task_id in present for task_id in ids)
        return SweepResult(checked=len(ids), found=found, missing=len(ids) - found, resend=resend)

    def overdue(self, due_before: float, limit: int = 1000) -> list[str]:
        """Task ids of records that could start before ``due_before`` and have not."""
        raw = self.redis.zrangebyscore(self.due_key, "-inf", due_before, start=0, num=limit)
        return [i.decode() if isinstance(i, bytes) else str(i) for i in raw]

    def settle(
        self, ids: Sequence[str], present: set[str], marked_before: float, due_before: float
    ) -> list[TaskMessage]:
        """One atomic step after a scan: restamp the found, mark the missing, claim suspects.

        A missing record still unstarted, still due before ``due_before`` and marked suspect
        before ``marked_before`` is claimed: restamped and returned, to one caller only.
        """
        args: list[Any] = [self.clock(), marked_before, due_before]
        for task_id in ids:
            args += (task_id, "1" if task_id in present else "0")
        raw: Any = self._settle(keys=[self.due_key, self.messages_key, self.suspect_key], args=args)
        return [_decode(m) for m in cast("list[bytes]", raw)]

    def present(self, wanted: set[str], broker: BrokerKeys) -> set[str] | None:
        """Which of ``wanted`` are in a queue list or the unacked hash (None: inconclusive)."""
        seen: set[str] = set()
        for key in broker.lists:
            if not self._scan_list(key, wanted, seen):
                return None
            if seen == wanted:
                return seen
        for _, value in self.redis.hscan_iter(broker.unacked, count=_CHUNK):
            try:
                # kombu stores [message, exchange, routing_key].
                task_id = _celery_task_id(json.loads(value)[0])
            except (ValueError, IndexError, TypeError):
                continue
            if task_id in wanted:
                seen.add(task_id)
        return seen

    def _scan_list(self, key: str, wanted: set[str], seen: set[str]) -> bool:
        # A list pushed onto faster than it is read would never end: give up past a bound
        # (nothing is re-sent then, the next sweep tries again).
        bound = 4 * int(self.redis.llen(key)) + 10 * _CHUNK
        start = 0
        while start <= bound:
            chunk = cast("list[bytes]", self.redis.lrange(key, start, start + _CHUNK - 1))
            for item in chunk:
                try:
                    task_id = _celery_task_id(json.loads(item))
                except ValueError:
                    continue
                if task_id in wanted:
                    seen.add(task_id)
            if len(chunk) < _CHUNK:
                return True
            start += _CHUNK
        return False

    def count(self) -> int:
        return int(self.redis.zcard(self.due_key))

    def suspects(self) -> int:
        return int(self.redis.hlen(self.suspect_key))

    def entries(self, task_ids: Iterable[str]) -> Sequence[TaskMessage | None]:
        """The recorded messages of ``task_ids`` (None where there is no record)."""
        ids = list(task_ids)
        if not ids:
            return []
        raw = cast("list[bytes | None]", self.redis.hmget(self.messages_key, ids))
        return [None if m is None else _decode(m) for m in raw]
