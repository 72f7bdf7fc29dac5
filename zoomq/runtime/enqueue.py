"""Durable, deduplicated, batched enqueueing onto Redis lists from an asyncio process.

Each caller awaits its own outcome; one writer task collects what callers submitted while
the previous round was in flight and sends it to Redis as ONE ``EVALSHA`` of a script that
handles every item. Per item the script is atomic: a dedup key that exists means
"duplicate" (nothing pushed); otherwise the message is LPUSHed and only then is the dedup
key set, so an item is never marked seen without being enqueued. An item given a task id
is written to the task ledger (``zoomq.runtime.ledger``) in the same step, so a message a worker
pops and loses before kombu records it is re-sent like any other.

Measured on the 2-core machine (PERF_BASELINES.md, and this module's benchmark), client CPU
is what a one-process receiver runs out of, so the writer is frugal with it:

- one script call per round, not a pipeline of one ``EVALSHA`` per item: redis.asyncio
  spends ~28 µs of CPU per pipelined command, ~6 µs per item of a single multi-item call;
- the command is packed here (RESP is a few ``b"".join``) and written on one connection the
  writer keeps, through redis.asyncio's ``Connection``; the command layer above it (pool
  checkout, retry wrapper, per-argument encoding) costs ~70 µs per call. Re-measured
  against the same call through redis-py's ``Script`` (``bench_receiver.py --enqueue-ab``,
  interleaved, 12 passes in three runs): 44-49 µs of receiver CPU per request against
  47-53 (more in every pass), and 0.81-0.92x the throughput by each run's median; so it
  stays;
- callers' time limits are enforced by one periodic sweep, not a timer per call, over the
  items themselves (the pending ones and the round in flight), so nothing outlives its
  answer (a separate deque of deadlines held every future for a whole ``timeout``, some
  10,000 objects at full load, for the cycle collector to scan);
- ``submit`` returns the caller's future without a coroutine around it, so a request that
  awaits it suspends and resumes through fewer frames.

Behind Sentinel (``zoomq.redis_client``) two more things hold. A server that answers the
pushes with ``READONLY`` was the master and is a replica now: the connection is dropped and
the round sent once more on a fresh one, which the pool opens to the master Sentinel names.
And with ``wait_replicas`` each round is followed, in the same write, by ``WAIT n timeout``:
a round the replicas did not all confirm fails (503, Zoom retries; the dedup key was
replicated with the message or lost with it), so an acknowledged event survives a failover
to a replica, which Redis's asynchronous replication alone does not promise.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final, TypedDict, Unpack

import redis.asyncio as aredis
import structlog
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ReadOnlyError, RedisError, ResponseError

from zoomq.errors import QueueUnavailable
from zoomq.runtime.keys import Keys

__all__ = ["ENQUEUE_SCRIPT", "BatchEnqueuer"]

log = structlog.get_logger(__name__)

#: KEYS = ledger due, ledger messages, ledger suspects, then dedup_1, queue_1, dedup_2, ...;
#: ARGV = now, then ttl_1, message_1, task_id_1, ttl_2, ... An empty dedup key means "no
#: dedup", an empty task id "not in the ledger". Answers, per item: 1 enqueued, 0 duplicate,
#: or the error text of a push Redis refused (nothing is marked seen or recorded then).
ENQUEUE_SCRIPT: Final = """
local out = {}
local now = ARGV[1]
for i = 4, #KEYS, 2 do
  local seen = KEYS[i]
  local a = (i - 4) / 2 * 3 + 2
  if seen ~= '' and redis.call('EXISTS', seen) == 1 then
    out[#out + 1] = 0
  else
    local pushed = redis.pcall('LPUSH', KEYS[i + 1], ARGV[a + 1])
    if type(pushed) == 'table' and pushed.err then
      out[#out + 1] = pushed.err
    else
      if seen ~= '' then redis.call('SET', seen, '1', 'EX', ARGV[a]) end
      local id = ARGV[a + 2]
      if id ~= '' then
        redis.call('HSET', KEYS[2], id, ARGV[a + 1])
        redis.call('ZADD', KEYS[1], now, id)
        redis.call('HDEL', KEYS[3], id)
      end
      out[#out + 1] = 1
    end
  end
end
return out
"""


class _Demoted(RedisConnectionError):
    """The server answered as a replica: the master moved (a Sentinel failover)."""


# One submitted item: dedup key (b"" for none), queue, ttl, message, the caller's future,
# its deadline (on the loop's clock) and its task id for the ledger (b"" for none).
_Item = tuple[bytes, bytes, bytes, bytes, "asyncio.Future[bool]", float, bytes]


class _Push(TypedDict, total=False):
    """``submit``'s keywords, which ``enqueue`` passes on."""

    dedup_key: str | None
    ttl: int
    task_id: str | None


class BatchEnqueuer:
    """Pushes messages onto Redis lists in batches; ``enqueue`` returns once Redis has them.

    ``timeout`` bounds each caller's wait (then ``QueueUnavailable``; an item not yet sent
    is then dropped, one in flight may still land, which a dedup key makes harmless);
    ``max_pending`` bounds the backlog while Redis is slow. ``on_batch(size, seconds)`` is
    called after each round, for metrics. A round lost with its connection is sent once
    more on a fresh one: items with a dedup key cannot land twice, others may.
    ``wait_replicas`` > 0: a round counts only once that many replicas have it (``WAIT``).
    """

    def __init__(
        self,
        client: aredis.Redis,
        *,
        timeout: float = 1.0,
        max_batch: int = 256,
        max_pending: int = 10_000,
        on_batch: Callable[[int, float], None] | None = None,
        keys: Keys = Keys(),  # noqa: B008 - frozen, so one shared default is safe
        wait_replicas: int = 0,
    ) -> None:
        if timeout <= 0 or max_batch < 1 or max_pending < 1:
            raise ValueError("timeout, max_batch and max_pending must be positive")
        self._redis = client
        self.timeout = timeout
        self.max_batch = max_batch
        self.max_pending = max_pending
        self._on_batch = on_batch
        #: The ledger's keys, the first three KEYS of every call.
        self._ledger_keys = tuple(
            k.encode() for k in (keys.ledger_due, keys.ledger_messages, keys.ledger_suspect)
        )
        # Items in submission order (so with ascending deadlines): those waiting for the
        # writer, and the round it has sent and waits on.
        self._pending: deque[_Item] = deque()
        self._in_flight: list[_Item] = []
        self._sweep_every = min(0.05, timeout / 10)
        self._loop: asyncio.AbstractEventLoop | None = None
        # Set while the writer is idle; submitting an item resolves it.
        self._idle: asyncio.Future[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._sha: bytes | None = None
        self._conn: AbstractConnection | None = None
        self._failing = False
        self.wait_replicas = wait_replicas
        # ``WAIT <n> <ms>``, sent right after each round's script call.
        wait = [b"WAIT", b"%d" % wait_replicas, b"%d" % max(1, int(timeout * 1000))]
        self._wait = (
            b"*3\r\n" + b"".join(b"$%d\r\n%b\r\n" % (len(w), w) for w in wait)
            if wait_replicas > 0
            else b""
        )

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not any(t.done() for t in self._tasks)

    def pending_count(self) -> int:
        """Items submitted and not yet sent to Redis."""
        return len(self._pending)

    async def start(self) -> None:
        """Start the writer and the timeout sweep (on the running loop)."""
        if self.running:
            return
        self._closing = False
        loop = self._loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._run(), name="zoomq-enqueue-writer"),
            loop.create_task(self._sweep(), name="zoomq-enqueue-timeouts"),
        ]

    async def stop(self, drain: float = 5.0) -> None:
        """Send what is pending (for at most ``drain`` seconds), then stop."""
        tasks, self._tasks = self._tasks, []
        self._closing = True
        self._wake()
        if tasks:
            writer, sweeper = tasks
            with contextlib.suppress(TimeoutError):  # wait_for cancels it on timeout
                await asyncio.wait_for(writer, drain)
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        while self._pending:
            future = self._pending.popleft()[4]
            if not future.done():
                future.set_exception(QueueUnavailable("the enqueuer stopped"))
        await self._drop_connection()

    async def enqueue(self, queue: str, message: bytes, **push: Unpack[_Push]) -> bool:
        """Push ``message`` onto ``queue``; True once Redis has it, False for a duplicate.

        With ``dedup_key`` the push happens only if that key is absent, and the key is then
        kept ``ttl`` seconds. With ``task_id`` (the Celery message's ``headers.id``) the
        message is recorded in the task ledger with the push. Raises ``QueueUnavailable``
        if Redis did not confirm in time.
        """
        return await self.submit(queue, message, **push)

    def submit(
        self,
        queue: str,
        message: bytes,
        *,
        dedup_key: str | None = None,
        ttl: int = 0,
        task_id: str | None = None,
    ) -> asyncio.Future[bool]:
        """``enqueue`` without the coroutine: the future that ``enqueue`` awaits.

        Call it on the loop the enqueuer was started on. Raises ``QueueUnavailable`` at once
        when nothing can be accepted; the future carries the outcome otherwise.
        """
        loop = self._loop
        if self._closing or not self._tasks or loop is None:
            raise QueueUnavailable("the enqueuer is not running")
        if len(self._pending) >= self.max_pending:
            raise QueueUnavailable(f"{self.max_pending} items already wait for Redis")
        if dedup_key is not None and ttl < 1:
            raise ValueError("a dedup key needs a ttl of at least one second")
        future: asyncio.Future[bool] = loop.create_future()
        self._pending.append(
            (
                dedup_key.encode() if dedup_key else b"",
                queue.encode(),
                b"%d" % ttl,
                message,
                future,
                loop.time() + self.timeout,
                task_id.encode() if task_id else b"",
            )
        )
        self._wake()
        return future

    def _wake(self) -> None:
        idle = self._idle
        if idle is not None and not idle.done():
            idle.set_result(None)

    async def _sweep(self) -> None:
        """Fail the callers whose time is up (at most ``_sweep_every`` late)."""
        loop = asyncio.get_running_loop()
        pending = self._pending
        while True:
            await asyncio.sleep(self._sweep_every)
            now = loop.time()
            # The round in flight is older than anything pending: check it first.
            for item in self._in_flight:
                if item[5] > now:
                    break
                self._expire(item[4])
            while pending and pending[0][5] <= now:
                self._expire(pending.popleft()[4])

    def _expire(self, future: asyncio.Future[bool]) -> None:
        if not future.done():
            future.set_exception(
                QueueUnavailable(f"Redis did not confirm within {self.timeout:g} s")
            )

    async def _run(self) -> None:
        pending = self._pending
        loop = asyncio.get_running_loop()
        while True:
            if not pending:
                if self._closing:
                    return
                self._idle = loop.create_future()
                try:
                    await self._idle
                finally:
                    self._idle = None
                continue
            batch: list[_Item] = []
            while pending and len(batch) < self.max_batch:
                item = pending.popleft()
                if not item[4].done():  # a caller that timed out is not written late
                    batch.append(item)
            if batch:
                self._in_flight = batch
                try:
                    await self._write(batch)
                except Exception as exc:  # a bug here must not leave callers waiting forever
                    log.exception("enqueue_writer_error")
                    self._fail(batch, exc)
                finally:
                    self._in_flight = []

    async def _write(self, batch: list[_Item]) -> None:
        started = time.perf_counter()
        try:
            results = await self._call(batch)
        except (RedisError, OSError, ValueError) as exc:
            # ValueError: the script answered something that is not one reply per item.
            self._fail(batch, exc)
            return
        for item, result in zip(batch, results, strict=True):
            future = item[4]
            if future.done():
                continue
            if result == 1:
                future.set_result(True)
            elif result == 0:
                future.set_result(False)
            else:
                text = result.decode("utf-8", "replace") if isinstance(result, bytes) else result
                log.error("enqueue_refused", queue=item[1].decode(), error=str(text))
                future.set_exception(QueueUnavailable(f"Redis refused the push: {text}"))
        if self._failing:
            self._failing = False
            log.info("enqueue_recovered")
        if self._on_batch is not None:
            self._on_batch(len(batch), time.perf_counter() - started)

    async def _call(self, batch: list[_Item]) -> list[Any]:
        if self._sha is None:
            self._sha = await self._load_script()
        # RESP: "*<argc>" then "$<len>" + bytes per argument; keys first, then ARGV.
        keys: list[bytes] = [b"$%d\r\n%b\r\n" % (len(k), k) for k in self._ledger_keys]
        now = repr(time.time()).encode("ascii")
        argv: list[bytes] = [b"$%d\r\n" % len(now), now, b"\r\n"]
        for dedup, queue, ttl, message, _, _, tid in batch:
            keys += (b"$%d\r\n" % len(dedup), dedup, b"\r\n$%d\r\n" % len(queue), queue, b"\r\n")
            argv += (b"$%d\r\n" % len(ttl), ttl, b"\r\n$%d\r\n" % len(message), message)
            argv += (b"\r\n$%d\r\n" % len(tid), tid, b"\r\n")
        count = len(self._ledger_keys) + 2 * len(batch)
        args = 1 + 3 * len(batch)
        tail = b"".join(keys + argv)
        replies = 2 if self._wait else 1
        for attempt in (1, 2):
            try:
                answers = await self._roundtrip(self._command(count, tail, args), replies)
            except NoScriptError:  # Redis restarted, failed over, or SCRIPT FLUSH since
                self._sha = await self._load_script()
                answers = await self._roundtrip(self._command(count, tail, args), replies)
            reply: list[Any] = answers[0]
            if not isinstance(reply, list) or len(reply) != len(batch):
                raise ValueError(f"unexpected reply from the enqueue script: {reply!r:.200}")
            if not any(type(r) is bytes and r.startswith(b"READONLY") for r in reply):
                break
            # The master became a replica: its pushes failed, nothing was written. A fresh
            # connection goes to the master Sentinel names now (a plain URL: the same server).
            await self._drop_connection()
            if attempt == 2:
                raise RedisConnectionError("Redis answers as a read-only replica")
        if self._wait:
            acked = answers[1]
            if not isinstance(acked, int) or acked < self.wait_replicas:
                raise RedisError(
                    f"WAIT: {acked} of {self.wait_replicas} replicas confirmed the round"
                )
        return reply

    def _command(self, count: int, tail: bytes, args: int) -> bytes:
        """``EVALSHA <sha> <count>`` followed by ``count`` packed keys and ``args`` arguments."""
        assert self._sha is not None
        number = b"%d" % count
        return b"".join(
            (
                b"*%d\r\n$7\r\nEVALSHA\r\n$%d\r\n" % (count + args + 3, len(self._sha)),
                self._sha,
                b"\r\n$%d\r\n" % len(number),
                number,
                b"\r\n",
                tail,
                self._wait,
            )
        )

    async def _load_script(self) -> bytes:
        sha: str | bytes = await self._redis.script_load(ENQUEUE_SCRIPT)
        return sha.encode() if isinstance(sha, str) else sha

    async def _drop_connection(self) -> None:
        """Close the writer's connection and give it back to the pool.

        The next one is checked out of the pool, which connects it: behind Sentinel, to the
        master the Sentinels name now. (A connection reconnected in place by sending on it
        goes back to the address it had, the old master.)
        """
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.disconnect()
            await self._redis.connection_pool.release(conn)

    async def _roundtrip(self, command: bytes, replies: int = 1) -> list[Any]:
        """Send packed commands on the writer's connection and read their ``replies``.

        An error reply is raised once every reply is read, so the connection stays in step.
        """
        for attempt in (1, 2):
            conn = self._conn
            if conn is None:
                pool = self._redis.connection_pool
                # redis-py leaves ConnectionPool.get_connection unannotated.
                conn = self._conn = await pool.get_connection()  # type: ignore[no-untyped-call]
            try:
                await conn.send_packed_command(command, check_health=False)
                if replies == 1:
                    reply: Any = await conn.read_response()
                    return [reply]
                return await self._read(conn, replies)
            except RedisConnectionError:
                # A connection that died with a Redis restart fails on first use, and one to
                # a master demoted since (_Demoted) answers as a replica: try once more on a
                # fresh one. (Timeouts are not retried: the callers are gone.)
                await self._drop_connection()
                if attempt == 2:
                    raise
            except RedisError:
                if not conn.is_connected:  # a timeout, say: start clean next round
                    await self._drop_connection()
                raise
        raise AssertionError("unreachable")

    @staticmethod
    async def _read(conn: AbstractConnection, replies: int) -> list[Any]:
        """Read ``replies`` replies; raise the first error reply once all are read."""
        answers: list[Any] = []
        refused: ResponseError | None = None
        for _ in range(replies):
            try:
                answers.append(await conn.read_response())
            except ResponseError as exc:
                refused = refused or exc
                answers.append(exc)
        if refused is None:
            return answers
        if isinstance(refused, ReadOnlyError) or "replica" in str(refused):
            raise _Demoted(str(refused)) from refused
        raise refused

    def _fail(self, batch: list[_Item], exc: BaseException) -> None:
        reason = f"Redis unavailable: {type(exc).__name__}: {exc}"
        for item in batch:
            if not item[4].done():
                item[4].set_exception(QueueUnavailable(reason))
        if not self._failing:  # log the transition, not every failed round
            self._failing = True
            log.warning("enqueue_failed", error=f"{type(exc).__name__}: {exc}", items=len(batch))
