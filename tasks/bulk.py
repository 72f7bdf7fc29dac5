"""``zoomq.jobs.run_chunk(job_id, indexes)``: some items of one bulk job (``zoomq.jobs``).

The task runs the chunk through the process's ``ChunkExecutor``, which sends the job's next
waiting chunk (``JobStore.advance``, once per turn however often it is called or the chunk
delivered) as soon as its last item is taken; then the task sends it (a no-op if already
sent) or, when items were handed back (a rate limit, a backoff), sends those items again
as a chunk of their own: with a countdown, or parked until a daily limit resets. The
handed-back chunk carries the original's ``turn``, so the job's next chunk goes out once
per turn.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from celery import Celery

from tasks.base import ZoomqTask
from tasks.policy import decide
from tasks.runtime import Runtime, get_runtime
from zoomq.client.http import ZoomClient
from zoomq.client.ratelimit import RedisRateLimiter, SlotBank
from zoomq.errors import InvalidInput
from zoomq.jobs.execute import Again, ChunkExecutor, ChunkReport
from zoomq.jobs.submit import PRIORITY_STEPS, Fanout
from zoomq.runtime.jobs import JobStore
from zoomq.runtime.message import TaskMessage
from zoomq.runtime.names import BULK_QUEUE, RUN_CHUNK_TASK
from zoomq.runtime.steps import attempt_owner

__all__ = ["Bulk", "bulk_of", "check_args", "register", "run_chunk"]

log = structlog.get_logger("zoomq.tasks")


@dataclass
class Bulk:
    """What a worker process keeps for bulk jobs: the store, the executor, the fan-out."""

    store: JobStore
    executor: ChunkExecutor
    fanout: Fanout
    pid: int


_bulk: dict[int, Bulk] = {}
_lock = threading.Lock()


def _clients(runtime: Runtime) -> Any:
    """One ``ZoomClient`` per connection for the process, its slots taken in batches."""
    bank = SlotBank(RedisRateLimiter(runtime.redis, runtime.settings.zoomq_key_prefix))
    clients: dict[str | None, ZoomClient] = {}
    lock = threading.Lock()

    def client(name: str | None) -> ZoomClient:
        found = clients.get(name)
        if found is None:
            with lock:
                found = clients.get(name)
                if found is None:
                    conns = runtime.connections()
                    conn = runtime.settings.connection(None) if name is None else conns.get(name)
                    if conn is None:
                        conn = runtime.settings.connection(name)  # raises, naming the known
                    found = clients[name] = ZoomClient(
                        runtime.settings, conn, redis_client=runtime.redis, limiter=bank
                    )
        return found

    return client


def bulk_of(runtime: Runtime) -> Bulk:
    """This process's ``Bulk`` (made again in a forked child)."""
    pid = os.getpid()
    found = _bulk.get(id(runtime))
    if found is not None and found.pid == pid:
        return found
    with _lock:
        found = _bulk.get(id(runtime))
        if found is None or found.pid != pid:
            settings = runtime.settings
            store = JobStore(runtime.redis, keys=runtime.keys, retention=settings.jobs.retention)
            fanout = Fanout(settings.jobs)
            executor = ChunkExecutor(
                store,
                runtime.store,
                _clients(runtime),
                queue=runtime.config,
                jobs=settings.jobs,
                decide=decide,
                callback=fanout.callback,
            )
            found = _bulk[id(runtime)] = Bulk(store, executor, fanout, pid)
    return found


def run_chunk(task: ZoomqTask, job_id: str, indexes: list[int], turn: str | None) -> dict[str, Any]:
    """The body of the chunk task: run, then send the next chunk or the handed-back items."""
    runtime = get_runtime(task.app)
    bulk = bulk_of(runtime)
    structlog.contextvars.bind_contextvars(job_id=job_id)
    check_args(bulk.store, job_id, indexes)
    owner = attempt_owner(task.request.id, task.request.retries)
    turn = turn or str(task.request.id)
    # The next chunk is sent once per turn, however often this is called (the store's
    # advance script): early, as the last items run, and again here after they did.
    report = bulk.executor.run(
        job_id, indexes, owner=owner, drained=lambda: bulk.store.advance(job_id, turn)
    )
    if report.again is not None:
        _again(task, runtime, bulk, job_id, turn, report.again)
    elif not report.missing:
        bulk.store.advance(job_id, turn)
    summary = _summary(report)
    log.info("bulk.chunk_done", **summary)
    return summary


def check_args(store: JobStore, job_id: Any, indexes: Any) -> None:
    """``InvalidInput`` (dead-lettered, never retried) unless ``job_id`` is a string and
    ``indexes`` a non-empty list of distinct item indexes of that job: a message sent by
    hand (the Celery contract) that names no items must not pass as done."""
    if not isinstance(job_id, str) or not job_id:
        raise InvalidInput(
            "run_chunk: job_id must be a job's id (a string)",
            [{"field": "job_id", "message": "expected a non-empty string"}],
        )
    if (
        not isinstance(indexes, list)
        or not indexes
        or not all(type(i) is int for i in indexes)  # bool is an int: not an index
    ):
        raise InvalidInput(
            "run_chunk: indexes must be a non-empty list of integers",
            [{"field": "indexes", "message": "expected a non-empty list of integers"}],
        )
    [raw] = store.fields(job_id, "items")
    if raw is None:
        return  # no such job (or expired): the executor reports it missing
    size = int(raw)
    wrong = [i for i in indexes if not 0 <= i < size]
    if wrong:
        raise InvalidInput(
            f"run_chunk: job {job_id} has items 0 to {size - 1}; not {wrong[:5]}",
            [{"field": "indexes", "message": f"out of range 0..{size - 1}: {wrong[:5]}"}],
        )


def _summary(report: ChunkReport) -> dict[str, Any]:
    found: dict[str, Any] = {"status": "done", "job_id": report.job_id, **report.counts}
    if report.missing:
        found["status"] = "missing"
    elif report.cancelled:
        found["status"] = "cancelled"
    if report.again is not None:
        found["again"] = len(report.again.indexes)
        found["reason"] = report.again.reason
    return found


def _again(
    task: ZoomqTask, runtime: Runtime, bulk: Bulk, job_id: str, turn: str, again: Again
) -> None:
    """Send the handed-back items as a chunk of their own, after their wait."""
    task_id = f"{turn}:{uuid.uuid4().hex[:8]}"
    args: list[Any] = [job_id, again.indexes]
    kwargs = {"turn": turn}
    now = time.time()
    due = again.park_until
    if due is None and again.countdown > runtime.config.max_countdown:
        due = now + again.countdown
    if due is not None:
        message = TaskMessage(RUN_CHUNK_TASK, args, kwargs, task_id, queue=BULK_QUEUE)
        runtime.parking.park(message, due, {"why": again.reason, "items": len(again.indexes)})
        log.info("bulk.chunk_parked", due_in=round(due - now, 3), items=len(again.indexes))
        return
    meta = bulk.store.meta(job_id)
    priority = PRIORITY_STEPS[meta.priority if meta is not None else "normal"]
    task.app.send_task(
        RUN_CHUNK_TASK,
        args=args,
        kwargs=kwargs,
        task_id=task_id,
        queue=BULK_QUEUE,
        countdown=again.countdown,
        priority=priority,
    )


def register(app: Celery) -> ZoomqTask:
    """Register ``zoomq.jobs.run_chunk`` on ``app``."""

    def chunk(
        self: ZoomqTask,
        job_id: str,
        indexes: list[int],
        turn: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        # ``meta`` carries the queue's retry budgets (ZoomqTask reads it); a retry is sent
        # with it, so the task must take it or every retry fails Celery's argument check.
        del meta
        return run_chunk(self, job_id, indexes, turn)

    chunk.__name__ = chunk.__qualname__ = "run_chunk"
    chunk.__doc__ = "Some items of one bulk job, run concurrently, each exactly once."
    task: ZoomqTask = app.task(name=RUN_CHUNK_TASK, base=ZoomqTask, bind=True, shared=False)(chunk)
    return task
