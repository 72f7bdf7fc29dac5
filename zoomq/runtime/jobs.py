"""Bulk jobs in Redis: each job's items, their states and results, counters, retention.

Per job ``<prefix>:job:<id>`` (keys under it: ``:in``, ``:st``, ``:out``, ``:bad``):

- the job hash: what was asked (action, connection, tenant, ...), its status, times, one
  counter per item state, the two samples the rate is taken from;
- ``:in`` index -> the item's input (JSON, as submitted);
- ``:st`` index -> its state letter and attempts (``q0``, ``r1``, ``s1``...); no field
  means ``q0``, so a fresh job writes no state at all;
- ``:out`` index -> its output or error (JSON);
- ``:bad`` the failed and dead indexes (a sorted set by index), for paging and retries.

Every change of an item's state is one Lua script (``_TRANSITION``) that moves the item
only from the state the change expects and adjusts the counters in the same step, so a
redelivered chunk never counts an item twice. The step that makes the last item terminal
marks the job finished, sets every key to expire ``retention`` seconds later, and pushes
the completion callback's message (built by the caller, with its ledger record): exactly
once, since only one step can be that one. A job that never finishes expires
``retention`` seconds after it was created (or last retried).

A job is written in pipelined batches, invisible (``status`` ``storing``) until one
small script commits it: the idempotency record, the tenant's index, the status and the
first chunk messages together. A submitter that dies half-way leaves an invisible job
that expires; the same idempotency key then makes a new one.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

import redis

from zoomq.errors import JobConflict
from zoomq.jobs.models import (
    TERMINAL_STATES,
    ItemError,
    ItemResult,
    ItemState,
    JobMeta,
    JobStatus,
    JobView,
)
from zoomq.runtime.keys import Keys

__all__ = ["STATE_LETTERS", "Committed", "JobStore", "Outcome", "QueuedMessage", "Started"]

#: One letter per item state in ``:st``.
STATE_LETTERS: Final[Mapping[ItemState, str]] = {
    ItemState.QUEUED: "q",
    ItemState.RUNNING: "r",
    ItemState.SUCCEEDED: "s",
    ItemState.FAILED: "f",
    ItemState.DEAD: "d",
    ItemState.CANCELLED: "c",
}
_STATES = {letter: state for state, letter in STATE_LETTERS.items()}

#: Fields per HSET and indexes per script call: large enough to amortise a round trip,
#: small enough that no single command blocks Redis for long.
_BATCH = 1000
#: The rate is taken over the last 5-10 s: a new sample every 5 s.
_RATE_SAMPLE = 5.0

# The one script of item transitions. KEYS: job, :st, :out, :bad, then the keys a
# finishing step sets to expire, then the ledger's due, messages, suspects.
# ARGV: mode, now, retention, callback queue, callback message, callback id, then per mode:
#   start   idx...          q or r -> r (attempts + 1); returns {0, idx, attempts, ...};
#                           of a cancelled job q or r -> c instead, {-2, completed_now}
#   finish  idx state out   r or q -> state, with its output or error
#   requeue counted idx...  r -> q (handed back to run later); counted '0': the attempt
#                           did not happen (a rate-limit wait), so it is not counted
#   cancel  idx...          q -> c
#   retry   idx...          f or d -> q (and the job is running again, not cancelled)
#   check   (none)          only whether the job is finished
# the others return {changed, completed_now}; a missing job {-1}.
_TRANSITION = """
local job, st, out, bad = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local mode, now, retention = ARGV[1], ARGV[2], tonumber(ARGV[3])
local names = {q='queued', r='running', s='succeeded', f='failed', d='dead', c='cancelled'}
if redis.call('EXISTS', job) == 0 then return {-1} end
local function get(i)
  local v = redis.call('HGET', st, i)
  if not v then return 'q', 0 end
  return string.sub(v, 1, 1), tonumber(string.sub(v, 2))
end
local function move(i, from, to, attempts)
  redis.call('HSET', st, i, to .. attempts)
  redis.call('HINCRBY', job, 'n:' .. names[from], -1)
  redis.call('HINCRBY', job, 'n:' .. names[to], 1)
  if to == 'f' or to == 'd' then redis.call('ZADD', bad, tonumber(i), i)
  elseif from == 'f' or from == 'd' then redis.call('ZREM', bad, i) end
end
local changed = 0
if mode == 'start' then
  if redis.call('HGET', job, 'cancelled') == '1' then
    -- Not started, and never will be: cancelled (a running one's delivery is gone).
    for k = 7, #ARGV do
      local s, a = get(ARGV[k])
      if s == 'q' or s == 'r' then move(ARGV[k], s, 'c', a); changed = changed + 1 end
    end
    mode = 'cancelled'
  end
end
if mode == 'start' then
  local res = {0}
  for k = 7, #ARGV do
    local i = ARGV[k]
    local s, a = get(i)
    if s == 'q' or s == 'r' then
      move(i, s, 'r', a + 1)
      res[#res + 1] = tonumber(i)
      res[#res + 1] = a + 1
    end
  end
  if redis.call('HGET', job, 'status') == 'queued' then
    redis.call('HSET', job, 'status', 'running', 'started_at', now)
  end
  redis.call('HSET', job, 'updated_at', now)
  return res
end
if mode == 'finish' then
  for k = 7, #ARGV, 3 do
    local i, to, result = ARGV[k], ARGV[k + 1], ARGV[k + 2]
    local s, a = get(i)
    if s == 'r' or s == 'q' then
      move(i, s, to, a)
      if result ~= '' then redis.call('HSET', out, i, result) end
      changed = changed + 1
    end
  end
elseif mode == 'requeue' then
  local counted = ARGV[7] == '1'
  for k = 8, #ARGV do
    local s, a = get(ARGV[k])
    if s == 'r' then
      move(ARGV[k], s, 'q', counted and a or math.max(a - 1, 0))
      changed = changed + 1
    end
  end
elseif mode == 'cancel' then
  for k = 7, #ARGV do
    local s, a = get(ARGV[k])
    if s == 'q' then move(ARGV[k], s, 'c', a); changed = changed + 1 end
  end
elseif mode == 'retry' then
  for k = 7, #ARGV do
    local s, a = get(ARGV[k])
    if s == 'f' or s == 'd' then move(ARGV[k], s, 'q', a); changed = changed + 1 end
  end
  if changed > 0 then
    redis.call('HSET', job, 'status', 'running')
    redis.call('HDEL', job, 'finished_at', 'cancelled')
    for k = 1, #KEYS - 3 do redis.call('EXPIRE', KEYS[k], retention) end
  end
  redis.call('HSET', job, 'updated_at', now)
  return {changed, 0}
end
if changed == 0 and mode ~= 'check' then return {mode == 'cancelled' and -2 or 0, 0} end
redis.call('HSET', job, 'updated_at', now)
local done = 0
for _, name in ipairs({'succeeded', 'failed', 'dead', 'cancelled'}) do
  done = done + tonumber(redis.call('HGET', job, 'n:' .. name) or '0')
end
local t1 = tonumber(redis.call('HGET', job, 'r1t') or '0')
if tonumber(now) - t1 >= 5 then
  redis.call('HSET', job, 'r0t', redis.call('HGET', job, 'r1t') or now,
             'r0n', redis.call('HGET', job, 'r1n') or '0', 'r1t', now, 'r1n', done)
end
local completed_now = 0
local items = tonumber(redis.call('HGET', job, 'items'))
if done >= items and not redis.call('HGET', job, 'finished_at') then
  local status = redis.call('HGET', job, 'cancelled') == '1' and 'cancelled' or 'completed'
  redis.call('HSET', job, 'status', status, 'finished_at', now)
  for k = 1, #KEYS - 3 do redis.call('EXPIRE', KEYS[k], retention) end
  if ARGV[5] ~= '' then
    local n = #KEYS
    redis.call('LPUSH', ARGV[4], ARGV[5])
    redis.call('HSET', KEYS[n - 1], ARGV[6], ARGV[5])
    redis.call('ZADD', KEYS[n - 2], now, ARGV[6])
    redis.call('HDEL', KEYS[n], ARGV[6])
  end
  completed_now = 1
end
if mode == 'cancelled' then return {-2, completed_now} end
return {changed, completed_now}
"""

# Chunk messages wait in the job's ``:chunks`` list, each entry ``task id \n queue \n
# message``; this moves up to ARGV[3] of them onto their queues (with ledger records).
# KEYS: job, :chunks, :adv, ledger due, messages, suspects. ARGV: now, member, count.
# A non-empty member is a finished delivery's task id: it moves chunks once only.
_MOVE = """
local function move(n)
  local moved = 0
  for _ = 1, n do
    local e = redis.call('LPOP', KEYS[2])
    if not e then break end
    local a = string.find(e, '\\n', 1, true)
    local b = string.find(e, '\\n', a + 1, true)
    local id, queue = string.sub(e, 1, a - 1), string.sub(e, a + 1, b - 1)
    local message = string.sub(e, b + 1)
    redis.call('LPUSH', queue, message)
    redis.call('HSET', KEYS[5], id, message)
    redis.call('ZADD', KEYS[4], ARGV[1], id)
    redis.call('HDEL', KEYS[6], id)
    moved = moved + 1
  end
  return moved
end
"""

_ADVANCE = (
    _MOVE
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[2] ~= '' then
  if redis.call('SADD', KEYS[3], ARGV[2]) == 0 then return 0 end
  redis.call('EXPIRE', KEYS[3], redis.call('TTL', KEYS[1]))
end
return move(tonumber(ARGV[3]))
"""
)

# Commit a stored job. KEYS: job, :chunks, :adv, ledger due, messages, suspects, then the
# idempotency record (or ''), the tenant's index. ARGV: now, '', window, job id, digest,
# retention, then the chunk entries. Returns {'created'} or {'exists', job id, digest}.
_COMMIT = (
    _MOVE
    + """
local idem, index = KEYS[7], KEYS[8]
local retention = tonumber(ARGV[6])
if idem ~= '' then
  local found = redis.call('HMGET', idem, 'job', 'digest')
  if found[1] and redis.call('EXISTS', (KEYS[1]:gsub(ARGV[4] .. '$', found[1]))) == 1 then
    return {'exists', found[1], found[2]}
  end
  redis.call('HSET', idem, 'job', ARGV[4], 'digest', ARGV[5])
  redis.call('EXPIRE', idem, retention)
end
redis.call('HSET', KEYS[1], 'status', 'queued')
redis.call('ZADD', index, ARGV[1], ARGV[4])
redis.call('EXPIRE', index, retention)
for k = 7, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[k]) end
redis.call('EXPIRE', KEYS[2], retention)
move(tonumber(ARGV[3]))
return {'created'}
"""
)


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A task message ready for a Redis list, with its task id for the ledger."""

    queue: str
    message: bytes
    task_id: str


@dataclass(frozen=True, slots=True)
class Committed:
    """What ``create`` did: the job's id, and whether it is new (else an earlier one)."""

    job_id: str
    created: bool


@dataclass(frozen=True, slots=True)
class Started:
    """Items a chunk may run now, with the attempt each is on; ``cancelled``: run none."""

    items: dict[int, int]
    cancelled: bool
    missing: bool = False
    #: Cancelling this chunk's items finished the (cancelled) job.
    finished: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one item ended: its state, and its output or error."""

    index: int
    state: ItemState
    output: dict[str, Any] | None = None
    error: ItemError | None = None

    def encode(self) -> str:
        if self.error is not None:
            return json.dumps({"e": self.error.model_dump()}, separators=(",", ":"))
        if self.output is not None:
            return json.dumps({"o": self.output}, separators=(",", ":"), default=str)
        return ""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _when(value: Any) -> datetime | None:
    text = _text(value)
    return None if text is None else datetime.fromtimestamp(float(text), UTC)


class JobStore:
    """Jobs and their items in Redis (see the module docstring for the layout)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        keys: Keys = Keys(),  # noqa: B008 - frozen, so one shared default is safe
        clock: Callable[[], float] = time.time,
        retention: int = 7 * 86_400,
    ) -> None:
        self.redis = client
        self.keys = keys
        self.clock = clock
        self.retention = retention
        self._transition = client.register_script(_TRANSITION)
        self._commit = client.register_script(_COMMIT)
        self._advance = client.register_script(_ADVANCE)
        self._ledger = (keys.ledger_due, keys.ledger_messages, keys.ledger_suspect)

    # -- keys ----------------------------------------------------------------------
    def _job_keys(self, job_id: str) -> list[str]:
        """Every key of a job; the transition script expires them together."""
        k = self.keys.job
        names = ("st", "out", "bad", "in", "chunks", "adv")
        return [k(job_id), *(k(job_id, name) for name in names)]

    def _chunk_keys(self, job_id: str) -> list[str]:
        k = self.keys.job
        return [k(job_id), k(job_id, "chunks"), k(job_id, "adv"), *self._ledger]

    @staticmethod
    def _entry(m: QueuedMessage) -> bytes:
        return b"\n".join((m.task_id.encode(), m.queue.encode(), m.message))

    def _idem_key(self, tenant: str, idempotency_key: str) -> str:
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
        return self.keys.job_idempotency(tenant, digest)

    # -- creating --------------------------------------------------------------------
    def find(self, tenant: str, idempotency_key: str, digest: str) -> str | None:
        """The job ``idempotency_key`` already names for ``tenant`` (same ``digest``).

        Raises ``JobConflict`` when it names a job of another digest.
        """
        raw = cast(
            "list[bytes | None]",
            self.redis.hmget(self._idem_key(tenant, idempotency_key), ["job", "digest"]),
        )
        job_id, found = _text(raw[0]), _text(raw[1])
        if job_id is None or not self.redis.exists(self.keys.job(job_id)):
            return None
        if found != digest:
            raise JobConflict(job_id, idempotency_key)
        return job_id

    def create(
        self,
        tenant: str,
        request_digest: str,
        meta: JobMeta,
        items: Iterable[str | Mapping[str, Any]],
        *,
        chunks: Callable[[str, int], Sequence[QueuedMessage]] = lambda job_id, n: (),
        window: int = 4,
        job_id: str | None = None,
    ) -> Committed:
        """Store a job, then commit it with its chunk messages, ``window`` of them sent.

        ``items`` are inputs (JSON text, or mappings encoded here), written in pipelined
        batches; ``chunks(job_id, count)`` gives the job's chunk messages, which wait in
        the job's list until ``advance`` sends them. With ``meta.idempotency_key`` an
        existing job of the same digest is returned (``created`` False) and one of another
        digest raises ``JobConflict``.
        """
        if meta.idempotency_key:
            existing = self.find(tenant, meta.idempotency_key, request_digest)
            if existing is not None:
                return Committed(existing, False)
        job_id = job_id or uuid.uuid4().hex
        now = self.clock()
        keys = self._job_keys(job_id)
        job_key, in_key = keys[0], self.keys.job(job_id, "in")
        head: dict[str, str | int] = {
            "tenant": tenant,
            "digest": request_digest,
            "meta": meta.model_dump_json(),
            "status": "storing",
            "created_at": repr(now),
            "updated_at": repr(now),
            "items": 0,
            **{f"n:{state.value}": 0 for state in ItemState},
        }
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(job_key, mapping=head)  # type: ignore[arg-type]
        pipe.expire(job_key, self.retention)
        count = 0
        batch: dict[int, str] = {}
        for item in items:
            batch[count] = (
                item if isinstance(item, str) else json.dumps(item, separators=(",", ":"))
            )
            count += 1
            if len(batch) >= _BATCH:
                pipe.hset(in_key, mapping=batch)  # type: ignore[arg-type]
                batch = {}
                if len(pipe) >= 8:
                    pipe.execute()
        if batch:
            pipe.hset(in_key, mapping=batch)  # type: ignore[arg-type]
        pipe.expire(in_key, self.retention)
        pipe.hset(job_key, mapping={"items": count, "n:queued": count})
        pipe.execute()
        entries = [self._entry(m) for m in chunks(job_id, count)]
        idem = self._idem_key(tenant, meta.idempotency_key) if meta.idempotency_key else ""
        args: list[Any] = [repr(now), "", window, job_id, request_digest, self.retention]
        found = cast(
            "list[bytes]",
            self._commit(
                keys=[*self._chunk_keys(job_id), idem, self.keys.tenant_jobs(tenant)],
                args=[*args, *entries],
            ),
        )
        if _text(found[0]) == "exists":
            # Another submission with the same key committed first: it wins.
            self.redis.delete(*keys)
            other, digest = _text(found[1]), _text(found[2])
            assert other is not None
            if digest != request_digest:
                raise JobConflict(other, str(meta.idempotency_key))
            return Committed(other, False)
        return Committed(job_id, True)

    def advance(self, job_id: str, done: str | None, count: int = 1) -> int:
        """Send up to ``count`` of the job's waiting chunk messages; how many were sent.

        ``done`` is the task id of a chunk delivery that finished: each sends its
        successor once, however often it is redelivered. None sends unconditionally.
        """
        moved = self._advance(
            keys=self._chunk_keys(job_id), args=[repr(self.clock()), done or "", count]
        )
        return int(cast("int", moved))

    def add_chunks(self, job_id: str, chunks: Sequence[QueuedMessage], window: int) -> int:
        """Queue more chunk messages behind the waiting ones (retries), sending ``window``."""
        if chunks:
            name = self.keys.job(job_id, "chunks")
            pipe = self.redis.pipeline(transaction=True)
            pipe.rpush(name, *(self._entry(m) for m in chunks))
            pipe.expire(name, self.retention)
            pipe.execute()
        return self.advance(job_id, None, window)

    def waiting_chunks(self, job_id: str) -> int:
        return int(self.redis.llen(self.keys.job(job_id, "chunks")))

    # -- reading ---------------------------------------------------------------------
    def get(self, job_id: str, tenant: str | None = None) -> JobView | None:
        """The job, or None when it is unknown, expired, not committed or another tenant's."""
        raw = cast("dict[bytes, bytes]", self.redis.hgetall(self.keys.job(job_id)))
        return self._view(job_id, raw, tenant)

    def meta(self, job_id: str) -> JobMeta | None:
        raw = _text(self.redis.hget(self.keys.job(job_id), "meta"))
        return None if raw is None else JobMeta.model_validate_json(raw)

    def tenant_of(self, job_id: str) -> str | None:
        return _text(self.redis.hget(self.keys.job(job_id), "tenant"))

    def _view(self, job_id: str, raw: Mapping[bytes, bytes], tenant: str | None) -> JobView | None:
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        if not fields or fields.get("status") in (None, "storing"):
            return None
        if tenant is not None and fields.get("tenant") != tenant:
            return None
        meta = JobMeta.model_validate_json(fields["meta"])
        counts = {state: int(fields.get(f"n:{state.value}", 0)) for state in ItemState}
        items = int(fields.get("items", 0))
        done = sum(n for state, n in counts.items() if state in TERMINAL_STATES)
        now = self.clock()
        rate = self._rate(fields, done, now)
        remaining = items - done
        finished = "finished_at" in fields
        eta = 0.0 if finished else (remaining / rate if rate > 0 else None)
        return JobView(
            job_id=job_id,
            tenant=fields["tenant"],
            action=meta.action,
            connection=meta.connection,
            status=JobStatus(fields["status"]),
            items=items,
            counts=counts,
            progress=done / items if items else 1.0,
            rate=rate,
            eta_seconds=eta,
            created_at=_when(fields["created_at"]) or datetime.now(UTC),
            updated_at=_when(fields["updated_at"]) or datetime.now(UTC),
            finished_at=_when(fields.get("finished_at")),
            priority=meta.priority,
            callback_url=meta.callback_url,
            batch=meta.batch,
        )

    @staticmethod
    def _rate(fields: Mapping[str, str], done: int, now: float) -> float:
        """Items per second over the last 5-10 s (since the first start, for a young job)."""
        if "finished_at" in fields:
            now = float(fields["finished_at"])
        if "r0t" in fields:
            since, base = float(fields["r0t"]), int(fields["r0n"])
        elif "started_at" in fields:
            since, base = float(fields["started_at"]), 0
        else:
            return 0.0
        elapsed = now - since
        return (done - base) / elapsed if elapsed > 0 and done > base else 0.0

    def list_jobs(
        self, tenant: str, limit: int = 50, cursor: int = 0
    ) -> tuple[list[JobView], int | None]:
        """A tenant's jobs, newest first; ``cursor`` is where the next page starts."""
        index = self.keys.tenant_jobs(tenant)
        ids = [_text(i) for i in self.redis.zrevrange(index, cursor, cursor + limit - 1)]
        pipe = self.redis.pipeline(transaction=False)
        for job_id in ids:
            pipe.hgetall(self.keys.job(str(job_id)))
        views: list[JobView] = []
        gone: list[str] = []
        for job_id, raw in zip(ids, pipe.execute(), strict=True):
            view = self._view(str(job_id), raw, tenant)
            if view is None:
                gone.append(str(job_id))
            else:
                views.append(view)
        if gone:  # expired: the index forgets them too
            self.redis.zrem(index, *gone)
        more = len(ids) == limit
        return views, (cursor + limit - len(gone) if more else None)

    def inputs(self, job_id: str, indexes: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The inputs of ``indexes`` (those the job has)."""
        if not indexes:
            return {}
        raw = cast("list[bytes | None]", self.redis.hmget(self.keys.job(job_id, "in"), indexes))
        return {i: json.loads(v) for i, v in zip(indexes, raw, strict=True) if v is not None}

    def _results(self, job_id: str, indexes: Sequence[int]) -> list[ItemResult]:
        k = self.keys.job
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(k(job_id, "in"), indexes)
        pipe.hmget(k(job_id, "st"), indexes)
        pipe.hmget(k(job_id, "out"), indexes)
        inputs, states, outs = pipe.execute()
        found: list[ItemResult] = []
        for index, given, state, out in zip(indexes, inputs, states, outs, strict=True):
            if given is None:
                continue
            letter, attempts = ("q", 0) if state is None else (chr(state[0]), int(state[1:]))
            done = json.loads(out) if out else {}
            error = done.get("e")
            found.append(
                ItemResult(
                    index=index,
                    state=_STATES[letter],
                    input=json.loads(given),
                    output=done.get("o"),
                    error=None if error is None else ItemError.model_validate(error),
                    attempts=attempts,
                )
            )
        return found

    def _count(self, job_id: str) -> int:
        return int(self.redis.hget(self.keys.job(job_id), "items") or 0)

    def items(
        self, job_id: str, state: ItemState | None = None, cursor: int = 0, limit: int = 100
    ) -> tuple[list[ItemResult], int | None]:
        """A page of items in index order (of ``state`` only, if given) from ``cursor``.

        The next cursor is None at the end. Failed and dead items are found through their
        index; other states are filtered while reading, a bounded stretch per page.
        """
        total = self._count(job_id)
        if state in (ItemState.FAILED, ItemState.DEAD):
            found: list[ItemResult] = []
            at = cursor
            while len(found) < limit:
                raw = self.redis.zrangebyscore(
                    self.keys.job(job_id, "bad"), at, "+inf", start=0, num=limit
                )
                indexes = [int(i) for i in cast("list[bytes]", raw)]
                if not indexes:
                    return found, None
                for result in self._results(job_id, indexes):
                    if result.state is state and len(found) < limit:
                        found.append(result)
                        at = result.index + 1
                if len(found) < limit:
                    at = indexes[-1] + 1
            return found, at
        found = []
        at = cursor
        scanned = 0
        while at < total and len(found) < limit and scanned < 20 * _BATCH:
            indexes = list(range(at, min(total, at + max(limit, 500))))
            for result in self._results(job_id, indexes):
                at = result.index + 1
                if state is None or result.state is state:
                    found.append(result)
                    if len(found) == limit:
                        break
            scanned += len(indexes)
        return found, (at if at < total else None)

    def iter_results(self, job_id: str, batch: int = 500) -> Iterator[ItemResult]:
        """Every item in index order, read ``batch`` at a time."""
        total = self._count(job_id)
        for start in range(0, total, batch):
            yield from self._results(job_id, list(range(start, min(total, start + batch))))

    # -- transitions -----------------------------------------------------------------
    def _run(
        self,
        job_id: str,
        mode: str,
        args: Sequence[Any],
        callback: QueuedMessage | None = None,
    ) -> list[Any]:
        head: list[Any] = [
            mode,
            repr(self.clock()),
            self.retention,
            callback.queue if callback else "",
            callback.message if callback else "",
            callback.task_id if callback else "",
        ]
        return cast(
            "list[Any]",
            self._transition(keys=[*self._job_keys(job_id), *self._ledger], args=[*head, *args]),
        )

    def start(
        self, job_id: str, indexes: Sequence[int], callback: QueuedMessage | None = None
    ) -> Started:
        """Mark ``indexes`` running (those queued, or running in a delivery that died).

        Terminal items are left out. Of a cancelled job nothing starts: its items here are
        cancelled (which may finish the job, sending ``callback``).
        """
        raw = self._run(job_id, "start", list(indexes), callback)
        if raw[0] == -1:
            return Started({}, cancelled=False, missing=True)
        if raw[0] == -2:
            return Started({}, cancelled=True, finished=bool(raw[1]))
        pairs = raw[1:]
        return Started({int(pairs[k]): int(pairs[k + 1]) for k in range(0, len(pairs), 2)}, False)

    def finish(
        self, job_id: str, outcomes: Sequence[Outcome], callback: QueuedMessage | None = None
    ) -> bool:
        """Record each outcome of an item not yet terminal; True if the job finished now.

        ``callback`` is pushed (and recorded in the ledger) when this call finishes the job.
        """
        args: list[Any] = []
        for o in outcomes:
            args += (o.index, STATE_LETTERS[o.state], o.encode())
        raw = self._run(job_id, "finish", args, callback)
        return len(raw) > 1 and bool(raw[1])

    def requeue(self, job_id: str, indexes: Sequence[int], *, counted: bool = True) -> int:
        """Running items handed back (to run in a later delivery): queued again.

        ``counted`` False: the attempt never reached Zoom (a rate-limit wait, a lease held
        elsewhere), so it does not count among the item's attempts.
        """
        if not indexes:
            return 0
        raw = self._run(job_id, "requeue", ["1" if counted else "0", *indexes])
        return max(0, int(raw[0]))

    def cancel(self, job_id: str, callback: QueuedMessage | None = None) -> JobView | None:
        """Stop the job: chunks stop taking its items at once, queued ones are cancelled.

        Running items finish. None for an unknown job.
        """
        job_key = self.keys.job(job_id)
        raw = cast("dict[bytes, bytes]", self.redis.hgetall(job_key))
        view = self._view(job_id, raw, None)
        if view is None:
            return None
        if view.status in (JobStatus.COMPLETED, JobStatus.CANCELLED):
            return view
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(job_key, mapping={"cancelled": "1", "status": "cancelled"})
        pipe.delete(self.keys.job(job_id, "chunks"))  # no more chunk messages go out
        pipe.execute()
        for start in range(0, view.items, _BATCH):
            part = list(range(start, min(view.items, start + _BATCH)))
            self._run(job_id, "cancel", part, callback)
        # The last running item may have finished between the flag and the sweep.
        self._run(job_id, "check", [], callback)
        return self.get(job_id)

    def retry_failed(self, job_id: str) -> list[int]:
        """Failed and dead items queued again; their indexes, for the caller to send."""
        raw = cast("list[bytes]", self.redis.zrange(self.keys.job(job_id, "bad"), 0, -1))
        indexes = [int(i) for i in raw]
        moved: list[int] = []
        for start in range(0, len(indexes), _BATCH):
            part = indexes[start : start + _BATCH]
            if self._run(job_id, "retry", part)[0] > 0:
                moved += part
        return moved

    def note(self, job_id: str, errors: Mapping[int, ItemError]) -> None:
        """Why items wait (a daily limit): shown with them until they finish."""
        encoded = {i: Outcome(i, ItemState.QUEUED, error=e).encode() for i, e in errors.items()}
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(self.keys.job(job_id, "out"), mapping=encoded)  # type: ignore[arg-type]
        pipe.expire(self.keys.job(job_id, "out"), self.retention)
        pipe.execute()

    def cancelled(self, job_id: str) -> bool:
        """Whether the job was cancelled (or is gone): chunks check it between items."""
        flag = self.redis.hmget(self.keys.job(job_id), ["cancelled", "status"])
        return flag[0] == b"1" or flag[1] is None

    def set_fields(self, job_id: str, **fields: str) -> None:
        """Keep small facts about a running job (an eligibility look-up's answer, ...)."""
        self.redis.hset(self.keys.job(job_id), mapping=fields)  # type: ignore[arg-type]

    def fields(self, job_id: str, *names: str) -> list[str | None]:
        return [_text(v) for v in self.redis.hmget(self.keys.job(job_id), list(names))]
